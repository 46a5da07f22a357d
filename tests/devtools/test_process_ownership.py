"""One owner per Airflow home: the lock refuses a second start, orphans are recognised, `stop` stops all of it."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest

from devtools.home_lock import AlreadyRunningError, HomeLock, owner_is_running
from devtools.local_airflow import LocalAirflow, OrphanedProcessesError, PortInUseError
from devtools.local_environment import stop_local_environment
from devtools.processes import processes_of, terminate
from include.settings import PROJECT_ROOT
from tests.devtools.conftest import wait_until


def test_second_owner_of_a_home_is_refused_with_the_running_ones_pid_and_how_to_stop_it(tmp_path, owner):
    running = owner(tmp_path)
    with pytest.raises(AlreadyRunningError) as refused:
        HomeLock(tmp_path).acquire("second", "http://127.0.0.1:2")
    message = str(refused.value)
    assert f"pid {running.pid}" in message and "`test owner`" in message
    assert f"devtools.cli stop --home {tmp_path}" in message


def test_lock_of_an_owner_that_died_is_free_again(tmp_path, owner):
    running = owner(tmp_path)
    running.kill()
    running.wait(10)
    assert not owner_is_running(tmp_path)
    lock = HomeLock(tmp_path)
    assert lock.acquire("next", "http://127.0.0.1:2").pid > 0
    lock.release()


def test_processes_are_ours_by_the_homes_marker_even_when_renamed_like_airflow_does(tmp_path, spawn):
    renamed = ("import os, setproctitle, time; os.environ['SPT_NOENV'] = '1'; "
               "setproctitle.setproctitle('airflow scheduler -- ' + 'x' * 400); time.sleep(120)")
    ours = [spawn(tmp_path / "home"), spawn(tmp_path / "home", renamed)]
    spawn(tmp_path / "other-home")
    spawn()
    assert wait_until(lambda: processes_of(tmp_path / "home") == sorted(p.pid for p in ours))


def test_terminate_stops_every_process_of_the_home_and_no_other(tmp_path, spawn):
    ours = [spawn(tmp_path / "home") for _ in range(3)]
    other = spawn(tmp_path / "other-home")
    assert terminate(tmp_path / "home", reap=lambda: [p.poll() for p in ours]) == []
    assert processes_of(tmp_path / "home") == []
    assert all(p.poll() is not None for p in ours)
    assert other.poll() is None


def test_orphans_of_an_earlier_run_refuse_a_start_and_are_left_alone(tmp_path, spawn):
    orphan = spawn(tmp_path)
    assert wait_until(lambda: processes_of(tmp_path) == [orphan.pid])
    with pytest.raises(OrphanedProcessesError) as refused:
        LocalAirflow(tmp_path, port=0).start()
    assert str(orphan.pid) in str(refused.value) and "devtools.cli stop" in str(refused.value)
    assert orphan.poll() is None
    assert not owner_is_running(tmp_path)


def test_a_taken_port_refuses_a_start_before_anything_runs(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(PortInUseError, match=f"port {taken.getsockname()[1]} "):
            LocalAirflow(tmp_path, port=taken.getsockname()[1]).start()
    assert not (tmp_path / "logs").exists()
    assert not owner_is_running(tmp_path)


def test_stop_stops_the_owner_and_whatever_it_left_behind(tmp_path, owner, spawn):
    running = owner(tmp_path)
    leftovers = [spawn(tmp_path) for _ in range(2)]
    assert wait_until(lambda: len(processes_of(tmp_path)) == 2)
    report = stop_local_environment(tmp_path, model_server_dir=None)
    assert running.wait(20) == -signal.SIGTERM
    assert wait_until(lambda: all(p.poll() is not None for p in leftovers))
    assert processes_of(tmp_path) == []
    assert report.lines()[0].startswith(f"stopped `test owner` (pid {running.pid})")
    assert "2 process(es) left without an owner" in report.lines()[1]


def test_stop_with_nothing_running_says_so(tmp_path):
    assert stop_local_environment(tmp_path, model_server_dir=None).lines() == [
        f"nothing of the local environment was running on {tmp_path.resolve()}"]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_unwind_the_owner_like_ctrl_c(stop_signal, spawn):
    program = ("import time\n"
               "from devtools.processes import StopRequested, stop_on_signals\n"
               "with stop_on_signals():\n"
               "    try:\n"
               "        print('ready', flush=True); time.sleep(60)\n"
               "    except StopRequested as stop:\n"
               "        print('cleaning up after', stop, flush=True)\n")
    process = spawn(None, program, stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(stop_signal)
    assert process.stdout.readline().strip() == f"cleaning up after {signal.Signals(stop_signal).name}"
    assert process.wait(10) == 0


def test_the_lock_dies_with_its_owner_even_when_the_owners_children_live_on(tmp_path, owner):
    running = owner(tmp_path)
    running.kill()
    running.wait(10)
    assert Path(f"/proc/{running.child_pid}").exists()
    assert not owner_is_running(tmp_path)
