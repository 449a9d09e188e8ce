"""Child process: builds job ads with HTCondor's own submit code (htcondor==24.12.24, Submit(text).jobs(),
the code of condor_submit -dry-run). Run by condor.py in the folder DAGMan would run in, with a timeout
(the submit language can hang on recursive macros: see the HTCondor reference).

stdin: JSON list of {"name", "text", "prepend": {macro: value}, "append": {macro: value}}
stdout: JSON list of {"name", "ok", "error", "procs": [{attribute: value as str/int/bool}]}
PREPEND macros are set before the submit text is read (DAGMan's default for VARS), APPEND macros after it.
"""
import json
import sys
import warnings

warnings.simplefilter("ignore")
import classad  # noqa: E402
import htcondor  # noqa: E402

WANTED = ["Cmd", "Arguments", "Args", "Environment", "Env", "RequestCpus", "RequestMemory", "RequestGpus", "RequestDisk",
          "ProcId", "ClusterId", "JobUniverse", "ContainerImage", "WantContainer", "Out", "Err", "UserLog", "TransferInput",
          "ShouldTransferFiles", "AllowedExecuteDuration", "Requirements", "JobPriority", "Iwd"]


def plain(value):
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, classad.ExprTree):
        try:
            evaluated = value.eval()
            if isinstance(evaluated, (str, int, float, bool)):
                return evaluated
        except Exception:
            pass
        return str(value)
    return str(value)


def main():
    requests = json.load(sys.stdin)
    results = []
    for request in requests:
        prefix = "".join("%s = %s\n" % (k, v) for k, v in request.get("prepend", {}).items())
        try:
            submit = htcondor.Submit(prefix + request["text"])
            for key, value in request.get("append", {}).items():
                submit[key] = value
            ads = list(submit.jobs(clusterid=int(request.get("cluster", 1))))
            procs = []
            for ad in ads:
                procs.append({k: (str(ad[k]) if k == "Requirements" else plain(ad[k])) for k in WANTED if k in ad})
                procs[-1]["_extra"] = {k: plain(ad[k]) for k in request.get("attributes", []) if k in ad}
            results.append({"name": request["name"], "ok": True, "error": None, "procs": procs})
        except Exception as e:  # the parser's own message, verbatim
            results.append({"name": request["name"], "ok": False, "error": "%s: %s" % (type(e).__name__, e), "procs": []})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
