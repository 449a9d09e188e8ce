// Kubernetes: the typed context of `kubernetes/workflow.yaml` (one workflow's ConfigMap, RBAC and Jobs).

import DJFlowTemplates

/// The context of `kubernetes/workflow.yaml`: one workflow's ConfigMap, RBAC for the waits, and Jobs.
///
/// The template lays out every object; the context holds values only. Every string field is already a
/// double-quoted YAML scalar made by `YAMLQuoting.quote` (keys of `Pair` by `YAMLQuoting.key`), so the
/// template prints it as it is. Values that may be absent are lists of zero or one element, so a section
/// over them never falls back to a field of an enclosing context.
struct KubernetesWorkflowContext: TemplateContext {
    static let template = "kubernetes/workflow.yaml"

    /// A key and a scalar of a YAML map whose keys are data (labels, annotations, node selector, resources).
    struct Pair: Codable, Sendable {
        var key: String
        var value: String
    }

    /// An object's `metadata` (a Job's pod template uses `labels` and `annotations` only).
    struct Metadata: Codable, Sendable {
        var name: String
        /// `targets.kubernetes.namespace`, when set.
        var namespace: [String]
        var labels: [Pair]
        var hasAnnotations: Bool
        var annotations: [Pair]
    }

    /// File names and mount points shared by the ConfigMap, the containers and the volumes.
    struct Paths: Codable, Sendable {
        /// Where the ConfigMap's scripts are mounted (`/djflow`).
        var mount: String
        /// Where the waiting init container finds its projected service-account token.
        var token: String
        /// The runner's and the helper's file names (ConfigMap keys and file names in the mount).
        var runner: String
        var helper: String
    }

    /// The ConfigMap holding the runner, the helper, the restriction and `retry_failed`.
    struct ConfigMap: Codable, Sendable {
        var metadata: Metadata
        /// The workflow's key restriction.
        var restriction: String
        /// `kubernetes/djflow_k8s.py` and the runner, as YAML block scalars.
        var helper: EmbeddedFile
        var runner: EmbeddedFile
    }

    /// The ServiceAccount, Role and RoleBinding of the init containers that wait for upstream Jobs.
    struct RBAC: Codable, Sendable {
        /// djflow creates the ServiceAccount (none named in `service_account`).
        var createAccount: Bool
        var metadata: Metadata
        /// The Jobs the Role may `get`: every Job some Job of this workflow waits for.
        var jobNames: [String]
        /// The Role's name, and the ServiceAccount bound to it (with its namespace, when set).
        var role: String
        var account: String
        var accountNamespace: [String]
    }

    /// One field of a toleration; `first` starts the list item (`- `).
    struct TolerationField: Codable, Sendable {
        var first: Bool
        var key: String
        var value: String
    }

    struct Toleration: Codable, Sendable {
        var fields: [TolerationField]
    }

    /// The init container that waits for upstream Jobs (`djflow_k8s.py wait`).
    struct Wait: Codable, Sendable {
        var image: String
        var command: [String]
        var args: [String]
    }

    /// A `secretKeyRef` or `configMapKeyRef`.
    struct KeyRef: Codable, Sendable {
        var source: String
        var item: String
    }

    /// One environment variable: a plain value, a reference to a Secret or ConfigMap key, or a pod field.
    struct Variable: Codable, Sendable {
        var name: String
        var value: [String] = []
        var secretKeyRef: [KeyRef] = []
        var configMapKeyRef: [KeyRef] = []
        var fieldRef: [String] = []
    }

    /// The container that runs the runner (through `djflow_k8s.py run`).
    struct Container: Codable, Sendable {
        var name: String
        var image: String
        var command: [String]
        var args: [String]
        var env: [Variable]
        var requests: [Pair]
        var limits: [Pair]
    }

    /// One Job: a table's indexed workers, or its refresh step.
    struct Job: Codable, Sendable {
        var comments: [Line]
        var metadata: Metadata
        /// Indexed completions (one per worker) and how many run at once.
        var completions: Int
        var parallelism: Int
        /// `backoffLimitPerIndex`.
        var retries: Int
        var hasDeadline: Bool
        var deadline: Int
        var ttl: Int
        /// The pod's `serviceAccountName`, when it has one.
        var serviceAccount: [String]
        var hasImagePullSecrets: Bool
        var imagePullSecrets: [String]
        var hasNodeSelector: Bool
        var nodeSelector: [Pair]
        var hasTolerations: Bool
        var tolerations: [Toleration]
        /// Empty, or the init container when this Job waits for others (it also gets the token volume).
        var wait: [Wait]
        var container: Container
        /// The ConfigMap the scripts volume comes from.
        var configMap: String
    }

    /// What the file holds and how to apply it, as comment lines.
    var description: [Line]
    var paths: Paths
    var configMap: ConfigMap
    /// Empty, or one entry when some Job waits for another.
    var rbac: [RBAC]
    var jobs: [Job]
    /// The runner's exit codes, and the helper's (`djflow_k8s.py wait`).
    var exit = ExitCodes.runner
    var helperExit = HelperExitCodes()

    /// The exit codes of `djflow_k8s.py wait` beyond the runner's (checked against its `EXIT_*` by a test).
    struct HelperExitCodes: Codable, Sendable {
        /// An upstream Job failed.
        var upstreamFailed = 3
        /// An upstream Job never appeared or never finished in time.
        var timeout = 4
    }
}

// MARK: The template value tree (each field under its name; `TemplateEncodableTests` checks it against Codable)

extension KubernetesWorkflowContext {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 7)
        tree.add("description", description)
        tree.add("paths", paths)
        tree.add("configMap", configMap)
        tree.add("rbac", rbac)
        tree.add("jobs", jobs)
        tree.add("exit", exit)
        tree.add("helperExit", helperExit)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.Pair: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 2)
        tree.add("key", key)
        tree.add("value", value)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.Metadata: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 5)
        tree.add("name", name)
        tree.add("namespace", namespace)
        tree.add("labels", labels)
        tree.add("hasAnnotations", hasAnnotations)
        tree.add("annotations", annotations)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.Paths: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 4)
        tree.add("mount", mount)
        tree.add("token", token)
        tree.add("runner", runner)
        tree.add("helper", helper)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.ConfigMap: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 4)
        tree.add("metadata", metadata)
        tree.add("restriction", restriction)
        tree.add("helper", helper)
        tree.add("runner", runner)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.RBAC: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 6)
        tree.add("createAccount", createAccount)
        tree.add("metadata", metadata)
        tree.add("jobNames", jobNames)
        tree.add("role", role)
        tree.add("account", account)
        tree.add("accountNamespace", accountNamespace)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.TolerationField: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 3)
        tree.add("first", first)
        tree.add("key", key)
        tree.add("value", value)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.Toleration: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 1)
        tree.add("fields", fields)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.Wait: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 3)
        tree.add("image", image)
        tree.add("command", command)
        tree.add("args", args)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.KeyRef: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 2)
        tree.add("source", source)
        tree.add("item", item)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.Variable: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 5)
        tree.add("name", name)
        tree.add("value", value)
        tree.add("secretKeyRef", secretKeyRef)
        tree.add("configMapKeyRef", configMapKeyRef)
        tree.add("fieldRef", fieldRef)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.Container: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 7)
        tree.add("name", name)
        tree.add("image", image)
        tree.add("command", command)
        tree.add("args", args)
        tree.add("env", env)
        tree.add("requests", requests)
        tree.add("limits", limits)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.Job: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 18)
        tree.add("comments", comments)
        tree.add("metadata", metadata)
        tree.add("completions", completions)
        tree.add("parallelism", parallelism)
        tree.add("retries", retries)
        tree.add("hasDeadline", hasDeadline)
        tree.add("deadline", deadline)
        tree.add("ttl", ttl)
        tree.add("serviceAccount", serviceAccount)
        tree.add("hasImagePullSecrets", hasImagePullSecrets)
        tree.add("imagePullSecrets", imagePullSecrets)
        tree.add("hasNodeSelector", hasNodeSelector)
        tree.add("nodeSelector", nodeSelector)
        tree.add("hasTolerations", hasTolerations)
        tree.add("tolerations", tolerations)
        tree.add("wait", wait)
        tree.add("container", container)
        tree.add("configMap", configMap)
        return .object(tree)
    }
}

extension KubernetesWorkflowContext.HelperExitCodes: TemplateEncodable {
    var templateValue: TemplateValue {
        var tree = TemplateFields(capacity: 2)
        tree.add("upstreamFailed", upstreamFailed)
        tree.add("timeout", timeout)
        return .object(tree)
    }
}
