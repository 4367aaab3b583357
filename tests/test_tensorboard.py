"""TensorBoard as a user sees it: a real `tensorboard` server on two tiny runs, over HTTP."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import entry_runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [arg for arg in entry_runner.TINY_TRAIN_ARGS if not arg.startswith("--learning_rate")]
TINY.append("--max_number_of_steps=40")
TRAIN_TAGS = {
    "loss/total_loss", "loss/orig_loss", "loss/weighted_loss",
    "mentor/percentile_loss", "mentor/loss_moving_percentile", "mentor/dropout_rate",
    "mentor/epoch_step", "mentor/data_util", "mentor/batch_sum_v",
    "learning_rate", "gradient_norm",
    "noise/accuracy_noisy", "noise/accuracy_clean", "noise/memorized", "noise/mean_v_clean",
    "noise/mean_v_corrupted", "noise/v_precision_clean", "noise/v_recall_clean", "noise/v_auc",
    "perf/steps_per_second", "perf/examples_per_second"}
HPARAMS = "/data/plugin/hparams/"


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _get(url, body=None):
  data = None if body is None else json.dumps(body).encode()
  request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
  with urllib.request.urlopen(request, timeout=30) as response:
    return json.loads(response.read())


@pytest.mark.slow
def test_tensorboard_serves_one_tag_per_quantity_and_hparams(tmp_path):
  for rate in ("0.001", "0.01"):  # a grid of two runs, compared in the HParams tab
    entry_runner.run_entry("train", [*TINY, f"--learning_rate={rate}",  # in this process
                                     f"--train_log_dir={tmp_path / ('lr' + rate)}"],
                           cwd=REPO, check=True)
  port = _free_port()
  tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
  server = subprocess.Popen([tensorboard, "--logdir", str(tmp_path), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
  base = f"http://127.0.0.1:{port}"
  try:
    deadline = time.time() + 90
    while True:  # the server is up and has loaded both runs' scalars
      try:
        tags = _get(base + "/data/plugin/scalars/tags")
        if len(tags) == 6:
          break
      except (urllib.error.URLError, ConnectionError):
        pass
      assert server.poll() is None and time.time() < deadline, "tensorboard did not come up"
      time.sleep(1)
    for run in ("lr0.001", "lr0.01"):
      assert set(tags[f"{run}/tensorboard/train"]) == TRAIN_TAGS
      assert set(tags[f"{run}/tensorboard/validation"]) == {"eval/accuracy", "eval/top5",
                                                            "eval/loss"}
      assert set(tags[f"{run}/tensorboard/hparams"]) == {"eval/final_accuracy",
                                                         "eval/best_accuracy"}
    histograms = _get(base + "/data/plugin/histograms/tags")
    assert "mentor/v" in histograms["lr0.001/tensorboard/train"]
    experiment = _get(base + HPARAMS + "experiment", {"experimentName": ""})
    hparams = {info["name"]: info for info in experiment["hparamInfos"]}
    assert hparams["learning_rate"]["differs"] and "noise_fraction" in hparams
    assert {m["name"]["tag"] for m in experiment["metricInfos"]} == {"eval/final_accuracy",
                                                                    "eval/best_accuracy"}
    groups = _get(base + HPARAMS + "session_groups", {
        "experimentName": "", "startIndex": 0, "sliceSize": 100,
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                            "STATUS_RUNNING"]})["sessionGroups"]
    assert sorted(g["hparams"]["learning_rate"] for g in groups) == [0.001, 0.01]
    for group in groups:
      values = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
      assert 0.0 < values["eval/final_accuracy"] <= values["eval/best_accuracy"] <= 1.0
  finally:
    server.terminate()
    try:
      server.wait(timeout=30)
    except subprocess.TimeoutExpired:
      server.kill()
      server.wait()
