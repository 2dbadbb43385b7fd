"""Train flow: fit Beyonder on the training datasets and log everything to MLflow
(``beyonder.stages.train`` does the work; the encoding runs as a task)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from beyonder.config import Layout
from beyonder.params import load_params
from beyonder.selector.corpus import Corpus, encode_corpus
from beyonder.selector.encoding import EncodedSample
from beyonder.stages.train import train_and_log, training_data


@task(name="encode-samples")
def encode_task(corpus: Corpus, root: str) -> list[EncodedSample]:
    return encode_corpus(corpus, Layout(root))


@flow(name="train")
def train_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    data = training_data(params, layout)
    logger.info(data.describe())
    encoded = encode_task(data.train, root), encode_task(data.val, root)
    return train_and_log(params, layout, data, encoded, log=logger.info)
