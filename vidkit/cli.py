"""The ``vidkit`` command line: the same code the notebooks run, headless.

    vidkit profile                              show the active profile
    vidkit data build [--size N] [--rebuild]    build (or reuse) the cached Moving MNIST test set
    vidkit data verify [--size N]               check the cache against its hash and a regeneration
    vidkit data export OUT.gif|OUT.mp4 [--suite mmnist|actions] [--index I] [--fps F] [--scale S]
    vidkit train RECIPE [--profile P] [--workdir DIR] [--steps N] [--time SECONDS] [--set KEY=VALUE ...]
    vidkit train --list                         list the recipes
    vidkit eval RUN [--sequences N] [--split val] [--samples]  score a work dir, reference or baseline
    vidkit publish RUN NAME [--half]            copy a run's weights to data/checkpoints/NAME
    vidkit reproduce [TOPIC|CLAIM ...] [--profile laptop] [--seeds 3] [--out DIR]
                                                train the claims' arms over seeds, record them in docs/results/
    vidkit reproduce --list                     every claim and its recorded verdict
    vidkit reproduce --render                   rewrite docs/claims.md from docs/results/
    vidkit data folder OUT [--layout ucf101|hmdb51] [--per-class N]
                                                the actions suite as a UCF-101 / HMDB-51 folder with split files
    vidkit predict VIDEO [--model NAME] [--out rollout.mp4] [--steps N] [--inputs last|first] [--fps F]
                                                continue your own video; write input | prediction
    vidkit embed FOLDER [--encoder pixels|NAME] [--out EMB.npz]   one embedding per video file (recursive)
    vidkit search QUERY_VIDEO --index EMB.npz [-k 5]             the nearest videos of the index
    vidkit protocol ROOT [--layout ucf101|hmdb51] [--split 1] [--encoder NAME] [--finetune] [--json OUT]
                                                linear-probe top-1 and retrieval R@k on an official split;
                                                --finetune: also fine-tuning top-1 (the profile's steps and lr)

Expected errors (a bad argument, a missing, refused or corrupt file, a non-finite loss, a full disk, a
folder that cannot be written) print one line naming the file and what to do, with exit code 2;
``vidkit --debug ...`` shows the traceback instead.

Each training run gets its own work dir under ``vidkit.runs_dir()`` (``runs/`` at the repository root, or
``$VIDKIT_RUNS``: config, log, checkpoints, metrics.json,
samples/rollouts.gif|mp4). ``--set model.mode=future --set model.layers=2`` changes any config entry.
"""

from __future__ import annotations

import argparse
import errno
import json
import shlex
import sys
from pathlib import Path

from vidkit.errors import VidkitError

#: OS errors a user can fix (permissions, a full disk, a path that is not a folder...): one line, exit 2.
_USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
                errno.EEXIST, errno.ENOENT, errno.ENAMETOOLONG}


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
        from vidkit.viz import frames as viz

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
    elif args.action == "folder":
        if args.out is None:
            raise SystemExit("vidkit data folder: give the folder to write")
        from vidkit.data.folders import write_actions_folder

        split = write_actions_folder(args.out, args.layout, args.per_class)
        print(f"wrote {split.describe()}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from vidkit.experiments import future_prediction as recipes

    if args.list or args.recipe is None:
        for name in sorted(recipes.RECIPES):
            print(f"{name:18s} {recipes.RECIPES[name]['description']}")
        return 0
    if args.recipe not in recipes.RECIPES:
        raise SystemExit(f"unknown recipe {args.recipe!r}; known: {', '.join(sorted(recipes.RECIPES))}")
    from vidkit.train import NonFiniteLossError

    try:
        workdir = recipes.run_recipe(args.recipe, profile=args.profile, workdir=args.workdir, steps=args.steps,
                                     time_budget_s=args.time, resume=not args.no_resume,
                                     overrides=recipes.parse_overrides(args.set), command=args.command_line)
    except NonFiniteLossError as e:  # say how to go on from the last good checkpoint
        if e.checkpoint is None:
            raise
        run = e.checkpoint[0].parent.parent
        raise NonFiniteLossError(e.step, e.loss, e.what, e.checkpoint,
                                 f"To resume it with a lower lr: vidkit train {args.recipe} --workdir {run} "
                                 f"--set train.lr=<lower> (also allowed: {', '.join(recipes.AFTER_NON_FINITE)})") from e
    from vidkit.runs import Run

    metrics = Run(workdir).read_metrics()
    print(json.dumps(metrics, indent=2, sort_keys=True))
    print(f"run {workdir}: {metrics.get('stop_reason', 'done')}")
    return 0


def _format_scores(name: str, scores: dict) -> str:
    mean = scores["mean"]
    split = "validation" if scores.get("split") == "val" else "test"
    lines = [f"{name}: {scores.get('task', 'future')} on {scores['sequences']} {split} sequences",
             "  " + "  ".join(f"{k} {v:.4g}" for k, v in mean.items())]
    if "mse" in scores.get("per_horizon", {}):
        lines.append("  mse per frame: " + " ".join(f"{v:.1f}" for v in scores["per_horizon"]["mse"]))
    return "\n".join(lines)


def _cmd_eval(args: argparse.Namespace) -> int:
    from vidkit.api import load, run_config
    from vidkit.eval.prediction import evaluate_predictor
    from vidkit.experiments import future_prediction as recipes
    from vidkit.models import BASELINES
    from vidkit.runs import Run

    if args.write and args.split != "test":
        raise ValueError("--write stores the test scores in metrics.json; it cannot be used with --split val")
    if args.run in BASELINES:  # a trivial baseline, scored the same way as the recipes' runs
        from vidkit.data import load_test_set, load_val_set

        if args.write or args.samples:
            raise ValueError("--write and --samples need a run; a baseline has no work dir")
        from vidkit.profiles import profile

        n = args.sequences if args.sequences is not None else profile().prediction.eval_sequences
        data = load_val_set(n) if args.split == "val" else load_test_set()
        scores = {**evaluate_predictor(BASELINES[args.run](), data, max_sequences=n), "split": args.split}
        print(_format_scores(args.run, scores))
        return 0
    from vidkit.api import reference_checkpoints, rescore_reference

    if args.write and args.run in reference_checkpoints() and not Path(args.run).exists():
        if args.sequences is not None:
            raise ValueError("a reference is re-scored on the sequences its README reports; drop --sequences")
        scores = rescore_reference(args.run)  # metrics.json and the README's table, beside the baselines
        print(_format_scores(args.run, scores))
        print(f"rewrote the metrics and README of reference {args.run!r}")
        return 0
    model, cfg, workdir = load(args.run), *run_config(args.run)
    from vidkit.profiles import profile

    active, own = profile(), profile(cfg["profile"])
    if args.split == "test" and own.test_size != active.test_size:  # say which test set, before building it
        n = cfg.get("eval_sequences") if args.sequences is None else args.sequences
        print(f"note: {args.run} was trained in the {own.name!r} profile, so it is scored on that profile's test "
              f"set ({f'the first {n} of ' if n else ''}{own.test_size} sequences, built once under data/cache/), "
              f"as its README reports, not on the active {active.name!r} profile's {active.test_size}")
    scores = recipes.evaluate_run(model, cfg, "config" if args.sequences is None else args.sequences,
                                  split=args.split)
    print(_format_scores(str(args.run), scores))
    if args.write:
        from vidkit.api import checkpoint_path
        from vidkit.utils.checkpoint import load_checkpoint

        run = Run(workdir)
        metrics = run.read_metrics()
        ckpt = load_checkpoint(checkpoint_path(args.run))
        # the scores belong to this checkpoint: record how far it was trained (also for a run in progress)
        run.update_metrics(eval=scores, steps=ckpt.get("step", metrics.get("steps")),
                           elapsed_s=ckpt.get("elapsed_s", metrics.get("elapsed_s")))
        print(f"wrote {run.metrics_path}")
    if args.samples:
        for path in recipes.write_samples(model, cfg, Run(workdir).samples):
            print(f"wrote {path}")
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from vidkit.api import publish

    folder = publish(args.run, args.name, half=args.half)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"published {args.run} as {args.name!r}: {folder} ({size / 1e6:.1f} MB)")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from vidkit import reproduce as R
    from vidkit.eval.claims import evaluate_claims, load_records

    if args.render:
        print(f"wrote {R.write_claims_md(args.out)}")
        return 0
    if args.list:
        claims = R.select(args.names)
        for v in evaluate_claims(claims, load_records(claims, args.out)):
            print(f"{v.claim.id}: {v.claim.question}\n    {v.summary()}")
        return 0
    from vidkit.utils import distributed as D

    verdicts = R.reproduce(args.names, profile=args.profile, seeds=args.seeds, out=args.out)
    if D.is_main():  # under torchrun, one report
        for v in verdicts:
            print(f"{v.claim.id}: {v.summary()}")
        print(f"wrote {R.claims_md_path(args.out)}")
    D.cleanup()
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from vidkit.api import load, predict_video
    from vidkit.models import BASELINES

    model = BASELINES[args.model]() if args.model in BASELINES else load(args.model)
    r = predict_video(model, args.video, args.out, steps=args.steps, inputs=args.inputs, fps=args.fps,
                      scale=args.scale, play_fps=args.play_fps)
    rate = "the file's rate" if args.fps is None else f"{args.fps:g} fps"
    colour = "grayscale" if r["channels"] == 1 else "RGB"
    print(f"read the {args.inputs} {r['input_frames']} frames of {args.video} at {rate}, {r['size']}x{r['size']} "
          f"{colour} (centre crop)")
    print(f"{args.model} predicted {r['steps']} frames" + (f"; the file has {r['truth_frames']} frames after the "
                                                             "inputs (truth)" if args.inputs == "first" else ""))
    print(f"wrote {r['out']}: {' | '.join(r['panels'])}, {r['out_frames']} frames at {args.play_fps:g} fps")
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from vidkit.api import load_encoder
    from vidkit.eval.real_video import embed_folder

    encoder, budget = load_encoder(args.encoder, args.profile)
    index = embed_folder(encoder, args.folder, args.out, str(args.encoder), budget)
    print(f"wrote {args.out}: {len(index)} videos of {index.root}, {index.embeddings.shape[1]}-d embeddings "
          f"({args.encoder}: {budget.test_clips} clips of {budget.frames} frames every {budget.stride}, "
          f"{budget.size}x{budget.size}, {budget.channels} channel{'s' if budget.channels > 1 else ''}, averaged)")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from vidkit.api import load_encoder
    from vidkit.eval.real_video import embed_video, load_index, search_index

    index = load_index(args.index)
    encoder, _ = load_encoder(index.encoder)
    query = embed_video(encoder, args.query, index.budget)          # read exactly as the index's videos were
    hits = search_index(index, query, k=min(args.k, len(index)))
    print(f"{args.query}: the {len(hits)} nearest of {len(index)} videos in {args.index} ({index.encoder}, "
          "cosine after centring)")
    for rank, (path, score) in enumerate(hits, 1):
        print(f"{rank:3d}  {score:+.3f}  {index.root / path}")
    return 0


def _cmd_protocol(args: argparse.Namespace) -> int:
    from vidkit.api import load_encoder
    from vidkit.eval.real_video import evaluate_folder

    encoder, budget = load_encoder(args.encoder, args.profile)
    r = evaluate_folder(encoder, args.root, args.layout, args.split, budget=budget, finetune=args.finetune)
    subset = f" ({r['subset']}: not the published protocol)" if r["subset"] else ""
    print(f"{r['layout']} split {r['split']}: {r['classes']} classes, {r['train_videos']} train and "
          f"{r['test_videos']} test videos{subset}; encoder {args.encoder}, {budget.test_clips} clips of "
          f"{budget.frames} frames every {budget.stride} per video, {budget.size} px")
    print(f"  linear probe top-1 {r['top1']:.3f}  (train {r['top1_train']:.3f}, chance {r['top1_chance']:.3f})")
    if args.finetune:
        print(f"  fine-tuning top-1 {r['finetune_top1']:.3f}  ({r['finetune_trained']}, {r['finetune_steps']} steps "
              f"of {budget.batch} clips at lr {r['finetune_lr']:g}; train clips {r['finetune_train_top1']:.3f})")
    print("  retrieval " + "  ".join(f"R@{k} {r[f'R@{k}']:.3f}" for k in r["ks"]))
    print("  chance    " + "  ".join(f"R@{k} {r[f'chance@{k}']:.3f}" for k in r["ks"]))
    if args.json:
        from vidkit.utils.fileio import write_json_atomic

        print(f"wrote {write_json_atomic({**r, 'encoder': str(args.encoder), 'root': str(args.root)}, args.json)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vidkit", description="vidkit: self-supervised video learning kit")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("profile", help="show the active profile")
    sp.set_defaults(fn=_cmd_profile)

    sd = sub.add_parser("data", help="build, verify or export the kit's data")
    sd.add_argument("action", choices=["build", "verify", "export", "folder"])
    sd.add_argument("out", nargs="?", help="export: output .gif or .mp4; folder: the folder to write")
    sd.add_argument("--size", type=int, default=None, help="test-set size (default: the profile's)")
    sd.add_argument("--rebuild", action="store_true", help="build: overwrite the cache")
    sd.add_argument("--suite", choices=["mmnist", "actions"], default="mmnist")
    sd.add_argument("--index", type=int, default=0)
    sd.add_argument("--fps", type=float, default=5.0)
    sd.add_argument("--scale", type=int, default=4)
    sd.add_argument("--layout", choices=["ucf101", "hmdb51"], default="ucf101", help="folder: the layout to write")
    sd.add_argument("--per-class", type=int, default=6, help="folder: videos per action class (default: 6)")
    sd.set_defaults(fn=_cmd_data)

    st = sub.add_parser("train", help="train a named recipe in its own work dir")
    st.add_argument("recipe", nargs="?")
    st.add_argument("--list", action="store_true", help="list the recipes")
    st.add_argument("--workdir", default=None, help="resume or write this work dir (default: <runs>/<recipe>-<time>, <runs> being "
                    "runs/ at the repository root, or $VIDKIT_RUNS)")
    st.add_argument("--steps", type=int, default=None, help="step budget (default: the profile's)")
    st.add_argument("--time", type=float, default=None, help="time budget in seconds")
    st.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint in --workdir")
    st.add_argument("--profile", default=None, help="smoke | laptop | full (default: the active profile)")
    st.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config entry, e.g. --set model.hidden=128 (repeatable)")
    st.set_defaults(fn=_cmd_train)

    se = sub.add_parser("eval", help="score a run, a reference checkpoint or a baseline on the test set")
    se.add_argument("run", help="work dir, checkpoint file, reference name, or zeros | copy_last | mean_frame")
    se.add_argument("--sequences", type=int, default=None, help="test prefix (default: the run's setting)")
    se.add_argument("--split", choices=("test", "val"), default="test",
                    help="test (final scores) or val (for choosing recipes and run lengths; default: test)")
    se.add_argument("--write", action="store_true",
                    help="store the scores in the run's metrics.json (a reference: also its README table)")
    se.add_argument("--samples", action="store_true", help="(re)write samples/rollouts.gif and .mp4")
    se.set_defaults(fn=_cmd_eval)

    sp2 = sub.add_parser("publish", help="copy a run's final weights to data/checkpoints/NAME")
    sp2.add_argument("run", help="work dir of a finished run")
    sp2.add_argument("name", help="reference name (a folder under data/checkpoints/)")
    sp2.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    sp2.set_defaults(fn=_cmd_publish)

    sr = sub.add_parser("reproduce", help="train the arms of the kit's claims over seeds and record them")
    sr.add_argument("names", nargs="*", help="topics (prediction, ...) or claim ids (default: every claim)")
    sr.add_argument("--profile", default="laptop", help="smoke | laptop | full (default: laptop)")
    sr.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per run (default: 3)")
    sr.add_argument("--out", default=None, help="folder for the records and claims.md (default: docs/results/ "
                    "and docs/claims.md)")
    sr.add_argument("--list", action="store_true", help="list the claims and their recorded verdicts")
    sr.add_argument("--render", action="store_true", help="only rewrite claims.md from the records")
    sr.set_defaults(fn=_cmd_reproduce)

    spr = sub.add_parser("predict", help="continue your own video with a future predictor; write the rollout")
    spr.add_argument("video", help="a video file (.mp4, .avi, .webm, .gif...)")
    spr.add_argument("--model", default="simvp_ref",
                     help="reference name, work dir, checkpoint, or zeros | copy_last | mean_frame (default: simvp_ref)")
    spr.add_argument("--out", default="rollout.mp4", help="output .mp4 or .gif (default: rollout.mp4)")
    spr.add_argument("--steps", type=int, default=10, help="frames to predict (default: 10)")
    spr.add_argument("--inputs", choices=["last", "first"], default="last",
                     help="last: continue the video past its end (default); first: predict what follows its first "
                          "frames and show the file's frames beside the prediction")
    spr.add_argument("--fps", type=float, default=None, help="read the video at this rate, picking frames "
                     "(default: the file's); e.g. 10 for a 30 fps video gives more motion per frame")
    spr.add_argument("--play-fps", type=float, default=5.0, help="frame rate of the output (default: 5)")
    spr.add_argument("--scale", type=int, default=4, help="enlarge the output frames (default: 4)")
    spr.set_defaults(fn=_cmd_predict)

    sem = sub.add_parser("embed", help="one embedding per video file of a folder (recursively) -> .npz index")
    sem.add_argument("folder")
    sem.add_argument("--encoder", default="pixels", help="pixels (pooled pixels and frame differences, no training) "
                     "or a reference / run whose model has embed(), e.g. lstm_composite_ref (default: pixels)")
    sem.add_argument("--out", default="embeddings.npz", help="the index file (default: embeddings.npz)")
    sem.add_argument("--profile", default=None, help="smoke | laptop | full: the reading sizes (default: the active)")
    sem.set_defaults(fn=_cmd_embed)

    sse = sub.add_parser("search", help="the videos of an index nearest to a query video")
    sse.add_argument("query", help="a video file, read and embedded as the index's videos were")
    sse.add_argument("--index", required=True, help="an .npz written by vidkit embed")
    sse.add_argument("-k", type=int, default=5, help="how many (default: 5)")
    sse.set_defaults(fn=_cmd_search)

    spt = sub.add_parser("protocol", help="linear-probe (and fine-tuning) top-1 and retrieval R@k on a UCF-101 / "
                         "HMDB-51 folder")
    spt.add_argument("root", help="the data set's folder (videos and official split files)")
    spt.add_argument("--layout", choices=["ucf101", "hmdb51"], default="ucf101")
    spt.add_argument("--split", type=int, choices=[1, 2, 3], default=1)
    spt.add_argument("--encoder", default="pixels", help="as for vidkit embed (default: pixels)")
    spt.add_argument("--profile", default=None, help="smoke | laptop | full: sizes and videos per class "
                     "(default: the active; full reads every video)")
    spt.add_argument("--finetune", action="store_true", help="also fine-tune the encoder and a linear classifier "
                     "on random training clips and report its top-1 (the profile's finetune_steps and finetune_lr; "
                     "the pixels encoder has no weights: only its classifier trains)")
    spt.add_argument("--json", default=None, help="also write the results to this JSON file")
    spt.set_defaults(fn=_cmd_protocol)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["vidkit", *argv])
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("vidkit: interrupted (a training run resumes from its last checkpoint when run again)",
              file=sys.stderr)
        return 130
    except (VidkitError, ValueError, FileNotFoundError, OSError) as e:
        if args.debug or (isinstance(e, OSError) and not isinstance(e, VidkitError | FileNotFoundError)
                          and e.errno not in _USER_ERRNOS):
            raise
        print(f"vidkit: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    """An expected error as one line: the message, or for an OS error the file and the reason."""
    if isinstance(e, OSError) and not isinstance(e, VidkitError) and e.strerror:
        where = e.filename if e.filename is not None else "a file"
        hint = {errno.ENOSPC: " (free some disk space and run again)",
                errno.EACCES: " (check the folder's permissions, or choose another path)",
                errno.EROFS: " (the file system is read-only: choose another path)"}.get(e.errno or 0, "")
        return f"{where}: {e.strerror}{hint}"
    return " ".join(str(e).split()) or type(e).__name__


if __name__ == "__main__":
    raise SystemExit(main())
