"""SIGINT/SIGTERM become ``Interrupted`` at safe points: held over h5py's in-memory writes
(HDF5 calls back into Python there, where an exception would be swallowed), and recorded even
when Python swallows what the handler raised, so that no output is committed after them."""

from __future__ import annotations

import gc
import io
import signal
import weakref

import h5py
import numpy as np
import pytest

from diffrl_eval import interrupts
from diffrl_eval.atomic import StagedDirectory
from diffrl_eval.errors import Interrupted


@pytest.fixture
def handlers():
    """The command line's handlers, installed for one test."""
    installed = interrupts.install_handlers()
    yield
    interrupts.restore_handlers(installed)


class SignalOnClose(io.BytesIO):
    """An in-memory file that receives SIGTERM while HDF5 flushes into it at close: h5py's
    close swallows what the handler raises there and fails with an error of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = self.sent = False

    def write(self, data):
        if self.armed and not self.sent:
            self.sent = True
            signal.raise_signal(signal.SIGTERM)
        return super().write(data)


def write_h5(target: SignalOnClose) -> None:
    with h5py.File(target, "w") as handle:
        handle.create_dataset("actions", data=np.arange(4096.0))
        target.armed = True


def test_without_holding_a_signal_inside_an_hdf5_write_is_swallowed_into_an_hdf5_error(handlers):
    """The defect the holding prevents (what the export did before)."""
    with pytest.raises(Exception) as failure:  # noqa: B017, PT011 - h5py's own error type
        write_h5(SignalOnClose())
    assert not isinstance(failure.value, Interrupted)
    assert interrupts.received() == "SIGTERM"  # recorded all the same


def test_a_signal_held_over_an_hdf5_write_interrupts_after_a_complete_file(handlers):
    target = SignalOnClose()
    with pytest.raises(Interrupted, match="SIGTERM"), interrupts.signals_deferred():
        write_h5(target)
        complete = h5py.File(io.BytesIO(target.getvalue()), "r")["actions"][:].sum()
    assert target.sent and complete == np.arange(4096.0).sum()


def test_deliver_raises_a_held_signal_at_the_point_the_section_chooses(handlers):
    reached = []
    with pytest.raises(Interrupted), interrupts.signals_deferred() as deferred:
        signal.raise_signal(signal.SIGINT)
        reached.append("after the signal")
        deferred.deliver()
        reached.append("after deliver")
    assert reached == ["after the signal"]


def test_held_sections_nest_and_the_outer_one_delivers(handlers):
    reached = []
    with pytest.raises(Interrupted), interrupts.signals_deferred():
        with interrupts.signals_deferred():
            signal.raise_signal(signal.SIGTERM)
        reached.append("outer section goes on")
    assert reached == ["outer section goes on"]


def test_a_signal_swallowed_by_a_weakref_callback_is_recorded_and_blocks_the_commit(
        handlers, tmp_path):
    class Node:
        pass

    out = tmp_path / "out"
    with StagedDirectory(out, sources=[]) as staged:
        (staged.path / "file").write_text("complete")
        node = Node()
        ref = weakref.ref(node, lambda _: signal.raise_signal(signal.SIGTERM))  # noqa: F841
        del node  # the callback's exception cannot propagate: Python ignores it
        gc.collect()
        assert interrupts.received() == "SIGTERM"
        with pytest.raises(Interrupted, match="SIGTERM"):
            staged.commit()
    assert not out.exists()


def test_without_the_command_line_handlers_holding_changes_nothing():
    with interrupts.signals_deferred() as deferred:
        pass
    assert deferred.pending == []
    assert interrupts.received() is None


class SwallowsTheSignal:
    """A command whose import of a C extension turns a signal into an error of its own (as
    ``import mujoco`` does when EGL's initialisation is interrupted), which the tool then
    reports as a user error."""

    def main(self, **_):
        try:
            signal.raise_signal(signal.SIGINT)
        except Interrupted:
            pass  # swallowed where it was raised
        from diffrl_eval.errors import UserError
        raise UserError("MuJoCo could not be imported (ImportError: initialization failed)")


def test_a_user_error_that_follows_a_swallowed_signal_is_reported_as_the_interruption(
        monkeypatch, capsys):
    import typer

    from diffrl_eval import cli
    monkeypatch.setattr(cli, "add_plugin_commands", lambda: None)
    monkeypatch.setattr(typer.main, "get_command", lambda _app: SwallowsTheSignal())
    with pytest.raises(SystemExit) as ended:
        cli.main([])
    assert ended.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted (SIGINT)" in err[0], err
