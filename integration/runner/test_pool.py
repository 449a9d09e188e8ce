"""The workflow pool (`--pool N --member ...`, issue #12) on a real database, DataJoint 2.3.5 and 0.14.10.

One runner process imports the pipeline once, sets every member table up, and forks N workers that share
the members key by key: each key is made exactly once, a key of a followed member only after its input
is committed, a table-level (`after=`) member only after its upstream is done and never when it has keys
in error; a failed key holds back only its dependents and fails the pool; SIGTERM to the pool stops every
worker and releases their keys; a worker killed with SIGKILL leaves its key to the others.
"""

import json
import os
import signal
import subprocess
import time

from test_job_health import ALL_RECORDINGS, FAILING_KEY, assert_each_key_once, key_tuple, reserved, wait_for

W0 = ["--member", "Recording", "--member", "LFP;follow=Recording"]


def by_key(made):
    return {key_tuple(r["key"]): r for r in made}


def test_pool_makes_every_key_once_and_each_after_its_input(ephys):
    ephys.stage("initial")
    # 3 workers for 8 recordings: in the last wave one worker is free while two still make Recording keys
    res = ephys.run("--pool", "3", *W0, env={"DJFLOW_SAMPLE_SLEEP": "0.3"})
    assert res.rc == 0 and res.summary["status"] == "ok", res
    assert res.summary["success_count"] == 2 * ALL_RECORDINGS, res
    pool = res.summary["pool"]
    assert [m["success_count"] for m in pool["members"].values()] == [ALL_RECORDINGS] * 2, pool
    assert len(pool["workers"]) == 3 and all(w["code"] == 0 for w in pool["workers"]), pool
    assert_each_key_once(ephys, "Recording", ALL_RECORDINGS)
    assert_each_key_once(ephys, "LFP", ALL_RECORDINGS)
    recording, lfp = by_key(ephys.made("Recording")), by_key(ephys.made("LFP"))
    for key, row in lfp.items():
        assert row["start"] >= recording[key]["end"], (key, row, recording[key])
    # pipelined: LFP keys were made before the last Recording key was done
    assert min(r["start"] for r in lfp.values()) < max(r["end"] for r in recording.values())
    # the workers ran side by side: 16 keys of 0.3 s in well under their sum
    starts = sorted(r["start"] for r in list(recording.values()) + list(lfp.values()))
    ends = sorted(r["end"] for r in list(recording.values()) + list(lfp.values()))
    assert ends[-1] - starts[0] < 16 * 0.3 * 0.6, (starts[0], ends[-1])
    assert len({w["pid"] for w in pool["workers"]}) == 3
    assert reserved(ephys) == []


def test_table_level_member_waits_for_its_upstream_to_finish(ephys):
    ephys.stage("initial")
    res = ephys.run("--pool", "3", "--member", "Recording", "--member", "LFP;after=Recording",
                    env={"DJFLOW_SAMPLE_SLEEP": "0.2"})
    assert res.rc == 0, res
    recording, lfp = ephys.made("Recording"), ephys.made("LFP")
    assert len(lfp) == ALL_RECORDINGS
    assert min(r["start"] for r in lfp) >= max(r["end"] for r in recording)


def test_failed_key_holds_back_its_dependents_and_fails_the_pool(ephys):
    ephys.stage("initial", "--with-failure")
    res = ephys.run("--pool", "3", *W0)
    assert res.rc == 1 and res.summary["status"] == "errors", res
    assert res.summary["scope_errors"]["keys"] == [FAILING_KEY], res
    assert res.summary["pool"]["members"]["LFP"]["success_count"] == ALL_RECORDINGS, res
    assert key_tuple(FAILING_KEY) not in by_key(ephys.made("LFP"))

    # afterok semantics for a table-level member: nothing of LFP runs once its upstream has a failed key
    ephys.query("DELETE FROM %s" % ephys.q("__l_f_p"))
    held = ephys.run("--pool", "3", "--member", "Recording", "--member", "LFP;after=Recording")
    assert held.rc == 1, held
    assert held.summary["pool"]["held_back"] == {"LFP": ALL_RECORDINGS}, held
    assert held.summary["pool"]["members"]["LFP"]["success_count"] == 0, held

    # on_error: continue for the upstream member: its failed key no longer holds the table back
    cont = ephys.run("--pool", "3", "--member", "Recording;suppress-errors", "--member", "LFP;after=Recording")
    assert cont.rc == 0 and cont.summary["pool"]["members"]["LFP"]["success_count"] == ALL_RECORDINGS, cont


def test_sigterm_stops_every_worker_and_releases_their_keys(ephys):
    ephys.stage("initial")
    proc = ephys.start("--pool", "3", *W0, env={"DJFLOW_SAMPLE_SLEEP": "30"})
    wait_for(lambda: len(reserved(ephys)) >= 3, timeout=60, what="three workers inside make()")
    os.kill(proc.pid, signal.SIGTERM)  # the pool's own process only: it forwards the signal
    res = ephys.finish(proc, timeout=60)
    assert res.rc == 143 and res.summary["status"] == "terminated", res
    assert [w["code"] for w in res.summary["pool"]["workers"]] == [143, 143, 143], res
    assert reserved(ephys) == [] and ephys.count("_recording") == 0
    again = ephys.run("--pool", "3", *W0)
    assert again.rc == 0 and again.summary["success_count"] == 2 * ALL_RECORDINGS, again
    assert_each_key_once(ephys, "Recording", ALL_RECORDINGS)


def test_sigterm_to_every_process_at_once_still_releases_every_key(ephys):
    """What SLURM does on scancel or requeue: slurmstepd signals every process of the step, and the pool's
    parent forwards its own SIGTERM too, so a worker gets more while it gives its key back (here: a burst)."""
    ephys.stage("initial")
    proc = ephys.start("--pool", "3", *W0, env={"DJFLOW_SAMPLE_SLEEP": "30"})
    wait_for(lambda: len(reserved(ephys)) >= 3, timeout=60, what="three workers inside make()")
    children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()]
    assert len(children) == 3, children
    os.kill(proc.pid, signal.SIGTERM)
    deadline = time.time() + 1.5  # and again and again while the workers give their keys back
    while time.time() < deadline:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
    res = ephys.finish(proc, timeout=60)
    assert res.rc == 143 and res.summary["status"] == "terminated", res
    assert [w["code"] for w in res.summary["pool"]["workers"]] == [143, 143, 143], res
    assert reserved(ephys) == [] and ephys.count("_recording") == 0


def test_a_worker_killed_with_sigkill_leaves_its_key_to_the_others(ephys):
    ephys.stage("initial")
    proc = ephys.start("--pool", "2", *W0, env={"DJFLOW_SAMPLE_SLEEP": "1"})
    wait_for(lambda: len(reserved(ephys)) >= 2, timeout=60, what="two workers inside make()")
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 2, children
    os.kill(int(children[-1]), signal.SIGKILL)
    res = ephys.finish(proc, timeout=120)
    assert res.rc == 0 and res.summary["status"] == "ok", res
    assert [w["code"] for w in res.summary["pool"]["workers"]] == [0, -9], res
    assert any("ended by a signal" in n for n in res.summary["notes"]), res
    assert ephys.count("_recording") == ALL_RECORDINGS and ephys.count("__l_f_p") == ALL_RECORDINGS
    assert_each_key_once(ephys, "LFP", ALL_RECORDINGS)
    assert reserved(ephys) == []


def test_pool_arguments_are_checked(ephys):
    for args, message in ((["--pool", "2"], "at least one --member"),
                          (["--pool", "2", "--member", "LFP;follow=Recording"], "not a member listed before"),
                          (["--pool", "2", "--member", "Recording;retries=3"], "bad field"),
                          (["--pool", "2", "--member", "Recording;max-calls=0"], "bad field"),
                          (["--pool", "2", "--member", "Recording", "--table", "LFP"], "cannot be combined"),
                          (["--member", "Recording", "--table", "LFP"], "--member needs --pool"),
                          (["--pool", "2", "--member", "Recording", "--member", "Recording"], "listed twice"),
                          (["--pool", "2", "--member", "Nope"], "unknown table")):
        res = ephys.run(*args)
        assert res.rc == 2 and res.summary["status"] == "usage", (args, res)
        assert message in res.summary["errors"][0], (args, res)


def test_restriction_and_max_calls_apply_to_every_member(ephys):
    ephys.stage("initial")
    restriction = json.dumps({"subject": "mouse1", "session_id": 1})  # two recordings
    res = ephys.run("--pool", "2", *W0, "--restriction", restriction)
    assert res.rc == 0 and res.summary["success_count"] == 4, res
    assert {r["key"]["session_id"] for r in ephys.made()} == {1}
    capped = ephys.run("--pool", "1", "--member", "Recording;max-calls=3")
    assert capped.rc == 0 and capped.summary["success_count"] == 3, capped
