"""The runner pieces behind a workflow's --retry-failed and --skip-done (generated submit scripts, DAG params,
ConfigMap keys): --clear-errors on the refresh step of a multi-worker table, and --describe-tables, the
progress of several tables from one Python start. Real MariaDB, DataJoint 2.3.5 or 0.14.10."""

import json
import subprocess

from conftest import DJ2

ALL_RECORDINGS = 8  # stage.py initial: 2 subjects x 2 sessions x 2 insertions


def describe(ephys, *tables, restriction=None):
    argv = ephys.cmd("--describe-tables", *[a for t in tables for a in ("--table", t)])
    if restriction is not None:
        argv += ["--restriction", restriction]
    proc = subprocess.run(argv, env=ephys.env, capture_output=True, text=True, timeout=180, cwd=str(ephys.tmp_path))
    return proc.returncode, proc.stdout, proc.stderr


def test_describe_tables_reports_every_table_from_one_start(ephys):
    ephys.stage("initial", "--with-failure")
    code, out, err = describe(ephys, "Recording", "LFP", "Clustering")
    assert code == 0, err
    # Nothing populated: every Recording key to do; LFP and Clustering have no key yet.
    assert out == "9 9 Recording\n0 0 LFP\n0 0 Clustering\n", (out, err)

    res = ephys.run("--table", "Recording")
    assert res.rc == 1 and res.summary["error_count"] == 1, res
    code, out, err = describe(ephys, "LFP", "Recording")
    assert code == 0, err
    assert out == "8 8 LFP\n1 9 Recording\n", "a key in error is still to do; output in the order asked"

    code, out, err = describe(ephys, "Recording", "LFP", restriction=json.dumps({"subject": "mouse2"}))
    assert code == 0 and out == "0 4 Recording\n4 4 LFP\n", (out, err)


def test_describe_tables_usage_errors_exit_2_and_print_nothing(ephys):
    ephys.stage("initial")
    for tables, fragment in [(["Recording", "Nope"], "unknown table 'Nope'"),
                             (["Recording.Channel"], "Part table"),
                             (["Session"], "only Imported/Computed")]:
        code, out, err = describe(ephys, *tables)
        assert code == 2 and out == "" and fragment in err, (tables, code, out, err)
    code, out, err = describe(ephys, "Recording", restriction='{"nope": 1}')
    assert code == 2 and out == "" and "nope" in err, (code, out, err)


def test_clear_errors_on_the_refresh_step_gives_failed_keys_to_the_workers(ephys):
    """--retry-failed on a multi-worker table: the refresh step (--refresh-only --clear-errors) gives the error
    rows back; the --no-refresh workers then make the key, once."""
    ephys.stage("initial", "--with-failure")
    res = ephys.run("--table", "Recording")
    assert res.rc == 1 and res.summary["error_count"] == 1, res
    ephys.stage("fix-failure")

    # Without --clear-errors the refresh step leaves the error row where it is.
    res = ephys.run("--table", "Recording", "--refresh-only")
    assert res.rc == 0 and "cleared_errors" not in res.summary, res
    assert [r["status"] for r in ephys.job_rows("_recording")] == ["error"]

    res = ephys.run("--table", "Recording", "--refresh-only", "--clear-errors")
    assert res.rc == 0 and res.summary["cleared_errors"] == 1, res
    assert ephys.count("_recording") == ALL_RECORDINGS, "the refresh step populates nothing"
    if DJ2:
        assert [r["status"] for r in ephys.job_rows("_recording")] == ["pending"]
    else:
        assert ephys.job_rows("_recording") == []  # 0.14: no row means "to do"

    worker = ephys.run("--table", "Recording", "--no-refresh", "--worker", "0/2")
    assert worker.rc == 0 and worker.summary["success_count"] == 1, worker
    assert ephys.count("_recording") == ALL_RECORDINGS + 1
    made = [r["key"] for r in ephys.made("Recording") if r["key"]["session_id"] == 99]
    assert made == [{"subject": "mouse1", "session_id": 99, "insertion_number": 1}], "made exactly once"
