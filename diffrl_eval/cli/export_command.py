"""`export` and `import`: datasets in the layouts other tools use, and back.

Export writes LeRobotDataset v3 (what LeRobot trains from) or LIBERO's robomimic HDF5
files; import reads LIBERO's HDF5 demonstration files into a ``human`` dataset.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from diffrl_eval.atomic import ScratchDir
from diffrl_eval.dataset.sources.convert import native_path
from diffrl_eval.errors import unknown_choice

# soft_wrap: a long path printed whole, not broken over lines
console = Console(soft_wrap=True)

EXPORT_FORMATS = ("lerobot", "libero-hdf5")
IMPORT_FORMATS = ("libero-hdf5",)


def export(
    dataset: str = typer.Argument(..., help="Dataset: a directory of this tool, or a LeRobot directory / Hub id / LIBERO HDF5 in LIBERO's layout."),
    out: Path = typer.Argument(..., help="Output directory to create."),
    format: str = typer.Option("lerobot", "--format", "-f", help="lerobot | libero-hdf5."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
    video_codec: str = typer.Option(
        "av1", "--video-codec", help="Camera videos (lerobot): av1 (LeRobot's default) | h264."
    ),
) -> None:
    """Export a dataset for other tools: LeRobotDataset v3 or LIBERO/robomimic HDF5.

    lerobot: OUT is a LeRobotDataset v3 (meta/, data/, and videos/ when the dataset has camera images), loadable with LeRobotDataset(repo_id, root=OUT).

    libero-hdf5: OUT is a folder of LIBERO demo files, one <task>_demo.hdf5 per task.
    """
    if format not in EXPORT_FORMATS:
        raise unknown_choice("export format", format, EXPORT_FORMATS)
    with ScratchDir(out) as workdir:  # a dataset of another format, converted beside OUT
        dataset_path, _ = native_path(dataset, workdir)
        path = _export(dataset_path, out, format, overwrite, video_codec)
    console.print(f"wrote {path}")


def _export(dataset: Path, out: Path, format: str, overwrite: bool, video_codec: str) -> Path:
    if format == "lerobot":
        from diffrl_eval.export.lerobot import export_lerobot
        from diffrl_eval.export.video import check_video_codec

        check_video_codec(video_codec)
        return export_lerobot(dataset, out, overwrite=overwrite, video_codec=video_codec)
    from diffrl_eval.export.libero_hdf5 import export_libero_hdf5

    return export_libero_hdf5(dataset, out, overwrite=overwrite)


def import_dataset(
    paths: list[Path] = typer.Argument(
        ..., help="Demo files (.hdf5, one per task) or folders of them, then OUT.",
        metavar="PATH",
    ),
    format: str = typer.Option("libero-hdf5", "--format", "-f", help="libero-hdf5."),
    suite: str = typer.Option(
        None, "--suite", "-s", help="Expected suite (e.g. libero_spatial); refuse other files."
    ),
    drop_no_ops: bool = typer.Option(
        False, "--drop-no-ops", help="Drop no-op steps, as OpenVLA does before training."
    ),
    images: bool = typer.Option(True, "--images/--no-images", help="Import camera images."),
) -> None:
    """Import demonstrations (LIBERO's HDF5 files) as a `human` dataset: PATH... OUT.

    Each demo becomes an episode: state = ee_pos + ee_ori (axis-angle) + gripper_states, the instruction from problem_info. No-op steps (OpenVLA's rule) are counted either way.
    """
    from diffrl_eval.errors import UserError
    from diffrl_eval.export.libero_import import import_libero_hdf5

    if format not in IMPORT_FORMATS:
        raise unknown_choice("import format", format, IMPORT_FORMATS)
    if len(paths) < 2:
        raise UserError("give at least one demo file or folder, then OUT")
    *sources, out = paths
    summary = import_libero_hdf5(sources, out, suite=suite, drop_no_ops=drop_no_ops,
                                 images=images)
    action = "dropped" if summary.no_ops_dropped else "kept (--drop-no-ops drops them)"
    console.print(f"no-op steps: {summary.n_no_ops} {action}")
    if summary.n_empty_episodes:
        console.print(f"{summary.n_empty_episodes} demo(s) held only no-ops and were left out")
    console.print(
        f"wrote {summary.path} ({summary.n_episodes} episodes, {summary.n_frames} frames "
        f"from {summary.n_files} file(s))"
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_dataset)
