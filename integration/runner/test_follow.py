"""Key-level pipelining (issue #12): `--follow --upstream T` on a real database, DataJoint 2.3.5 and 0.14.10.

A downstream worker started together with its upstream worker populates each key as soon as the
upstream key is committed, finishes when nothing is left to take and the upstream table is done
(decided from one snapshot), lets a failed upstream key hold back only its own dependents, gives up
with exit 1 when upstream work is left but nothing upstream moves, and, with --auto-workers, leaves
at once when its worker number is beyond the work that can come.
"""

import json

from conftest import DJ2
from test_job_health import ALL_RECORDINGS, FAILING_KEY, assert_each_key_once, key_tuple


def by_key(made):
    return {key_tuple(r["key"]): r for r in made}


def test_downstream_starts_with_upstream_and_takes_each_key_after_its_input(ephys):
    ephys.stage("initial")
    upstream = ephys.start("--table", "Recording", env={"DJFLOW_SAMPLE_SLEEP": "0.4"})
    downstream = ephys.start("--table", "LFP", "--follow", "--upstream", "Recording",
                             env={"DJFLOW_SAMPLE_SLEEP": "0"})
    up, down = ephys.finish(upstream), ephys.finish(downstream)
    assert up.rc == 0 and down.rc == 0, (up, down)
    assert down.summary["success_count"] == ALL_RECORDINGS, down
    follow = down.summary["follow"]
    assert follow["left"] == "done" and follow["held_back"] == {}, follow
    assert_each_key_once(ephys, "LFP", ALL_RECORDINGS)
    recording, lfp = by_key(ephys.made("Recording")), by_key(ephys.made("LFP"))
    for key, row in lfp.items():  # never before its input was made (and committed after that)
        assert row["start"] >= recording[key]["end"], (key, row, recording[key])
    # pipelined, not table after table: LFP started before the last Recording key was done
    assert min(r["start"] for r in lfp.values()) < max(r["end"] for r in recording.values()), (lfp, recording)
    # cheap polling: a bounded number of polls, not one per key and retry
    assert follow["polls"] < 60, follow


def test_failed_upstream_key_holds_back_only_its_dependents(ephys):
    ephys.stage("initial", "--with-failure")
    upstream = ephys.start("--table", "Recording", env={"DJFLOW_SAMPLE_SLEEP": "0.2"})
    downstream = ephys.start("--table", "LFP", "--follow", "--upstream", "Recording")
    up, down = ephys.finish(upstream), ephys.finish(downstream)
    assert up.rc == 1 and up.summary["scope_errors"]["keys"] == [FAILING_KEY], up  # the failed job still fails
    assert down.rc == 0, down
    assert down.summary["success_count"] == ALL_RECORDINGS, down
    assert down.summary["follow"]["held_back"] == {"Recording": 1}, down.summary["follow"]
    assert key_tuple(FAILING_KEY) not in by_key(ephys.made("LFP"))


def test_follow_gives_up_when_nothing_upstream_moves(ephys):
    ephys.stage("initial")
    res = ephys.run("--table", "LFP", "--follow", "--upstream", "Recording", "--upstream-grace", "2", timeout=60)
    assert res.rc == 1 and res.summary["status"] == "errors", res
    assert "no upstream worker took a key" in res.summary["errors"][0], res
    assert ephys.count("__l_f_p") == 0


def test_auto_workers_beyond_the_work_leave_at_once(ephys):
    ephys.stage("initial")
    restriction = json.dumps({"subject": "mouse1", "session_id": 1})  # two recordings
    assert ephys.run("--table", "Recording", "--restriction", restriction).rc == 0
    spare = ephys.run("--table", "LFP", "--follow", "--upstream", "Recording", "--auto-workers", "--worker", "5/8",
                      "--restriction", restriction)
    assert spare.rc == 0 and spare.summary["success_count"] == 0, spare
    assert spare.summary["follow"]["left"].startswith("worker 5 of an auto-sized table"), spare
    first = ephys.run("--table", "LFP", "--follow", "--upstream", "Recording", "--auto-workers", "--worker", "0/8",
                      "--restriction", restriction)
    assert first.rc == 0 and first.summary["success_count"] == 2 and first.summary["follow"]["left"] == "done", first


def test_follow_options_are_checked(ephys):
    res = ephys.run("--table", "LFP", "--upstream", "Recording")
    assert res.rc == 2 and "--follow" in res.summary["errors"][0], res
    res = ephys.run("--table", "LFP", "--follow", "--refresh-only")
    assert res.rc == 2, res


def test_max_calls_bounds_the_whole_follow_run(ephys):
    ephys.stage("initial")
    assert ephys.run("--table", "Recording").rc == 0
    res = ephys.run("--table", "LFP", "--follow", "--upstream", "Recording", "--max-calls", "3")
    assert res.rc == 0 and res.summary["success_count"] == 3, res
    assert res.summary["follow"]["left"] == "--max-calls reached", res
    if DJ2:
        assert res.summary["follow"]["rounds"] >= 1
