"""``ssrstf data ...``: prepare and convert datasets, summarise a prepared file."""

from __future__ import annotations

import argparse
import json


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import prepare_h36m

    _check_data_out(args)
    streams = prepare_h36m(args.source, subjects=args.subjects, progress=not args.quiet)
    return _finish_data(save_streams(streams, args.out), streams)


def _cmd_data_videopose3d(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import convert_videopose3d, source_name_from_path

    _check_data_out(args)
    sources = {}
    for item in args.keypoints_2d:
        name, sep, path = item.rpartition("=")
        sources[name if sep else source_name_from_path(path)] = path
    streams = convert_videopose3d(
        args.positions_3d, sources, args.cameras, subjects=args.subjects, progress=not args.quiet
    )
    return _finish_data(save_streams(streams, args.out), streams)


def _cmd_data_motionbert(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import convert_motionbert

    _check_data_out(args)
    streams = convert_motionbert(args.pickle, allow_pickle=args.allow_pickle)
    return _finish_data(save_streams(streams, args.out), streams)


def _cmd_data_3dhp(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.mpi_inf_3dhp import prepare_mpi_inf_3dhp

    _check_data_out(args)
    streams = prepare_mpi_inf_3dhp(args.source, allow_pickle=args.allow_pickle)
    return _finish_data(save_streams(streams, args.out), streams)


def _cmd_data_info(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import summarize_file

    summary = summarize_file(args.path)
    print(json.dumps(summary, indent=2) if args.json else _format_summary(summary))
    return 0


def _check_data_out(args: argparse.Namespace) -> None:
    """Refuse an unusable --out before the (long) preparation starts."""
    from ssrstf.data.h36m import prepared_path
    from ssrstf.files import check_new_file

    check_new_file(prepared_path(args.out), overwrite=args.overwrite)


def _finish_data(path, streams) -> int:
    from ssrstf.data.h36m import summarize_streams

    print(f"wrote {path}\n{_format_summary(summarize_streams(streams))}")
    return 0


def _format_summary(summary: dict) -> str:
    lines = [f"{summary['streams']} streams, {summary['frames']} frames"]
    for subject, counts in summary["subjects"].items():
        lines.append(f"  {subject:<5} {counts['streams']:>4} streams {counts['frames']:>9} frames")
    lines.append(f"2D sources (streams): {summary['sources_2d']}")
    lines.append(f"3D arrays: {', '.join(summary['arrays']) or 'none'}")
    if summary.get("joint_layout", "h36m17") != "h36m17":
        lines.append(f"joint layout: {summary['joint_layout']}")
    if summary.get("valid_frames") is not None:
        lines.append(f"valid (scored) frames: {summary['valid_frames']}")
    return "\n".join(lines)


def _add_data(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="prepare Human3.6M in the project format")
    data.description = "Write the prepared-dataset .npz described in docs/data-format.md."
    cmds = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    raw = cmds.add_parser("prepare-h36m", help="from the raw layout (world 3D, cameras, SH 2D)")
    raw.add_argument("--source", required=True, help="folder, e.g. ../shared/data/h36m")
    raw.set_defaults(func=_cmd_data_prepare)
    vp3d = cmds.add_parser("convert-videopose3d", help="from VideoPose3D's npz files")
    vp3d.add_argument("--positions-3d", required=True, help="data_3d_h36m.npz")
    vp3d.add_argument(
        "--keypoints-2d", nargs="+", default=[], metavar="[NAME=]FILE",
        help="data_2d_h36m_<source>.npz files (name defaults from the file: cpn, sh, ...)",
    )  # fmt: skip
    vp3d.add_argument("--cameras", required=True, help="h36m_cameras.json (docs/data-format.md)")
    vp3d.set_defaults(func=_cmd_data_videopose3d)
    mb = cmds.add_parser("convert-motionbert", help="from h36m_sh_conf_cam_source_final.pkl")
    mb.add_argument("--pickle", required=True, help="MotionBERT's preprocessed pickle")
    mb.add_argument(
        "--allow-pickle", action="store_true",
        help="required: unpickling runs code from the file; only use files you trust",
    )  # fmt: skip
    mb.set_defaults(func=_cmd_data_motionbert)
    hp = cmds.add_parser("prepare-3dhp", help="MPI-INF-3DHP: P-STMO npz or the official .mat files")
    hp.add_argument(
        "--source", required=True,
        help="data_train_3dhp.npz / data_test_3dhp.npz (or their folder), or the official "
        "release folder (S*/Seq*/annot.mat, mpi_inf_3dhp_test_set/TS*/annot_data.mat)",
    )  # fmt: skip
    hp.add_argument(
        "--allow-pickle", action="store_true",
        help="required for P-STMO's npz files (pickled object arrays; read with a restricted "
        "unpickler that builds numpy arrays, dicts and lists only)",
    )  # fmt: skip
    hp.set_defaults(func=_cmd_data_3dhp)
    for parser in (raw, vp3d, mb, hp):
        parser.add_argument("--out", required=True, help="output .npz")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    for parser in (raw, vp3d):
        parser.add_argument("--subjects", nargs="+", help="only these subjects (default: all)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
    info = cmds.add_parser("info", help="stream and frame counts of a prepared file")
    info.add_argument("path", help="prepared .npz")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_cmd_data_info)
