"""The ``vidkit`` command line: the same code the notebooks run, headless.

    vidkit profile                              show the active profile
    vidkit data build [--size N] [--rebuild]    build (or reuse) the cached Moving MNIST test set
    vidkit data verify [--size N]               check the cache against its hash and a regeneration
    vidkit data export OUT.gif|OUT.mp4 [--suite mmnist|actions] [--index I] [--fps F] [--scale S]
    vidkit train RECIPE [--workdir DIR] [--steps N] [--time SECONDS] [--no-resume]
    vidkit train --list                         list the recipes

Each training run gets its own work dir under ``runs/`` (config, log, checkpoints, metrics.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _cmd_profile(args: argparse.Namespace) -> int:
    from vidkit.profiles import profile

    print(profile().describe())
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from vidkit.data import load_test_set, verify_test_set

    if args.action == "build":
        data = load_test_set(args.size, rebuild=args.rebuild)
        print(f"test set: {len(data)} sequences, {data.frames.shape}, sha256 {data.meta['sha256']}\n"
              f"  {data.meta['path']}")
    elif args.action == "verify":
        report = verify_test_set(args.size)
        print(json.dumps(report, indent=2))
        print("OK: the cached test set matches its recorded hash and a fresh regeneration"
              + (" and the reference hash" if report["known"] else ""))
    elif args.action == "export":
        if args.out is None:
            raise SystemExit("vidkit data export: give an output path ending in .gif or .mp4")
        from vidkit import viz

        out = Path(args.out)
        if args.suite == "mmnist":
            data = load_test_set(args.size)
            if not 0 <= args.index < len(data):
                raise SystemExit(f"--index must be in 0..{len(data) - 1}")
            clip, caption = data.frames[args.index], data.captions[args.index]
        else:
            from vidkit.data.actions import generate_actions

            clips = generate_actions(args.index + 1, split="test", seed=0, size=64)
            clip, caption = clips.frames[args.index], clips.captions[args.index]
        save = viz.save_gif if out.suffix == ".gif" else viz.save_mp4
        path = save(clip, out, fps=args.fps, scale=args.scale)
        print(f"wrote {path}  ({caption})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from vidkit import recipes

    if args.list or args.recipe is None:
        for name in sorted(recipes.RECIPES):
            print(name)
        return 0
    if args.recipe not in recipes.RECIPES:
        raise SystemExit(f"unknown recipe {args.recipe!r}; known: {', '.join(sorted(recipes.RECIPES))}")
    workdir = recipes.run_recipe(args.recipe, workdir=args.workdir, steps=args.steps,
                                 time_budget_s=args.time, resume=not args.no_resume)
    print(f"run finished: {workdir}")
    metrics = Path(workdir) / "metrics.json"
    if metrics.exists():
        print(metrics.read_text())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vidkit", description="vidkit: self-supervised video learning kit")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("profile", help="show the active profile")
    sp.set_defaults(fn=_cmd_profile)

    sd = sub.add_parser("data", help="build, verify or export the kit's data")
    sd.add_argument("action", choices=["build", "verify", "export"])
    sd.add_argument("out", nargs="?", help="export: output .gif or .mp4")
    sd.add_argument("--size", type=int, default=None, help="test-set size (default: the profile's)")
    sd.add_argument("--rebuild", action="store_true", help="build: overwrite the cache")
    sd.add_argument("--suite", choices=["mmnist", "actions"], default="mmnist")
    sd.add_argument("--index", type=int, default=0)
    sd.add_argument("--fps", type=float, default=5.0)
    sd.add_argument("--scale", type=int, default=4)
    sd.set_defaults(fn=_cmd_data)

    st = sub.add_parser("train", help="train a named recipe in its own work dir")
    st.add_argument("recipe", nargs="?")
    st.add_argument("--list", action="store_true", help="list the recipes")
    st.add_argument("--workdir", default=None, help="resume or write this work dir (default: runs/<recipe>-<time>)")
    st.add_argument("--steps", type=int, default=None, help="step budget (default: the profile's)")
    st.add_argument("--time", type=float, default=None, help="time budget in seconds")
    st.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint in --workdir")
    st.set_defaults(fn=_cmd_train)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"vidkit: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
