"""One epoch of the selector's training through ``model.fit`` and through ``fit_batches``, side by side.

    .venv/bin/python bench/fit_loop.py
    .venv/bin/python bench/fit_loop.py --samples 320 --epochs 3 --json bench/fit_loop/result.json

The selector draws fresh random views of its samples every epoch (``estimator._Batches``).
Keras's ``model.fit`` reads such a source through tf.data's generator op;
``beyonder.selector.fitting.fit_batches`` calls ``train_on_batch``/``test_on_batch`` per batch
instead. Both train a fresh network of ``params.yaml``'s ``train`` section (same seed, same
batches in the same order) on the same synthetic encoded samples (the cost depends on the
shapes only: every view is ``train.rows`` x ``train.max_features``), one way after the other
in this process, ``fit_batches`` first: the generator op changes how the process allocates
memory for the rest of its life (``beyonder/selector/fitting.py``), so whatever runs after
``model.fit`` pays its price too. Reported: the first epoch (it includes building the training
graph), the median of the later epochs in wall and CPU seconds of this process, and each way's
last validation loss (the same batches in the same order: the losses should agree closely).

Results go to ``bench/RESULTS.md`` (between ``<!-- fit_loop -->`` and ``<!-- /fit_loop -->``,
replaced on every run) and, with ``--json PATH``, to JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_section import write_section  # noqa: E402  (a sibling bench module)

REPO = Path(__file__).resolve().parents[1]
MARK = "fit_loop"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--samples", type=int, default=320, help="training samples (default 320)")
    p.add_argument("--val", type=int, default=64, help="validation samples (default 64)")
    p.add_argument("--epochs", type=int, default=3, help="epochs each way (default 3)")
    p.add_argument("--params", type=Path, default=REPO / "params.yaml")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    import keras

    from beyonder.params import load_params
    from beyonder.selector import estimator as est
    from beyonder.selector.encoding import N_CHANNELS, N_GLOBALS, EncodedSample
    from beyonder.selector.fitting import fit_batches
    from beyonder.selector.inference import BeyonderConfig

    params = load_params(args.params)
    config = BeyonderConfig(
        **{**asdict(params.train), "epochs": args.epochs, "prior_init": False},
        classifiers=list(params.label.classifiers),
        seed=params.seed,
    )
    rng = np.random.default_rng(params.seed)
    n = args.samples + args.val
    samples = [
        EncodedSample(
            rng.normal(size=(params.sample.rows, 2 * config.max_features, N_CHANNELS)).astype(
                np.float32
            ),
            rng.normal(size=N_GLOBALS).astype(np.float32),
        )
        for _ in range(n)
    ]
    k = len(config.classifiers)
    accuracy = est._f32(rng.uniform(0.5, 1.0, (n, k)))
    fit_time = est._log_time(rng.uniform(0.01, 1.0, (n, k)))
    scores = est._score_targets(rng.uniform(0.5, 1.0, (n, len(config.metrics), k)), n, config)
    tr, va = slice(0, args.samples), slice(args.samples, n)

    def sources():
        train = est._Batches(
            samples[tr], accuracy[tr], fit_time[tr], config, True, scores=scores[tr]
        )
        val = est._Batches(
            samples[va], accuracy[va], fit_time[va], config, False, scores=scores[va]
        )
        return train, val  # fmt: skip

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.wall, self.cpu = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self._wall, self._cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.val_loss = float(logs["val_loss"])
            self.wall.append(time.perf_counter() - self._wall)
            self.cpu.append(time.process_time() - self._cpu)

    def network():
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(config.seed)
        model = est.new_network(config)
        est.Beyonder(config)._compile(model)
        return model

    def keras_fit(model, clock):
        train, val = sources()

        class Adapter(keras.utils.PyDataset):
            def __init__(self, source):
                super().__init__()
                self.source = source

            def __len__(self):
                return len(self.source)

            def __getitem__(self, index):
                return self.source[index]

            def on_epoch_end(self):
                self.source.on_epoch_end()

        model.fit(Adapter(train), validation_data=Adapter(val), epochs=args.epochs,
                  callbacks=[clock], verbose=0, shuffle=False)  # fmt: skip

    def loop(model, clock):
        train, val = sources()
        fit_batches(model, train, args.epochs, validation=val, callbacks=[clock])

    ways = {}
    for name, train in (("fit_batches", loop), ("model.fit", keras_fit)):
        clock = Clock()
        train(network(), clock)
        later_wall, later_cpu = clock.wall[1:] or clock.wall, clock.cpu[1:] or clock.cpu
        ways[name] = {
            "first_epoch_s": clock.wall[0],
            "epoch_s": statistics.median(later_wall),
            "epoch_cpu_s": statistics.median(later_cpu),
            "val_loss": clock.val_loss,
        }
        print(f"{name:12s} {ways[name]}", file=sys.stderr)
    return {
        "command": "python bench/fit_loop.py " + shlex.join(sys.argv[1:]),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs",
        "samples": args.samples,
        "val_samples": args.val,
        "epochs": args.epochs,
        "batch_size": config.batch_size,
        "view": [config.rows, config.max_features],
        "ways": ways,
        "speedup": ways["model.fit"]["epoch_s"] / ways["fit_batches"]["epoch_s"],
    }


def markdown(result: dict) -> str:
    lines = [
        f"`{result['command']}` ({result['machine']}): {result['samples']} training and "
        f"{result['val_samples']} validation samples, views of {result['view'][0]} rows x "
        f"{result['view'][1]} columns, batches of {result['batch_size']}, {result['epochs']} "
        "epochs each way, one way after the other in one process.",
        "",
        "| training loop | first epoch (builds the graph), s | later epochs, median s | CPU s | last val loss |",
        "|---|---|---|---|---|",
    ]
    for name, way in result["ways"].items():
        lines.append(
            f"| `{name}` | {way['first_epoch_s']:.1f} | {way['epoch_s']:.1f} | {way['epoch_cpu_s']:.1f} | {way['val_loss']:.4f} |"
        )
    lines += [
        "",
        f"An epoch is {result['speedup']:.1f}x faster through `fit_batches`.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    write_section(args.results, MARK, markdown(result), "## Training loop")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
