"""Config validation: each bad value is refused with a message that names its flag."""
import re

import pytest

from mentornet_tf import config as config_lib
from mentornet_tf import schedules


@pytest.mark.parametrize("factory,kwargs,flag", [
    (config_lib.DataConfig, {"noise_fraction": 1.5}, "--noise_fraction"),
    (config_lib.DataConfig, {"dataset_name": "imagenet"}, "--dataset_name"),
    (config_lib.DataConfig, {"noise_type": "asym"}, "--noise_type"),
    (config_lib.DataConfig, {"batch_size": 0}, "--batch_size"),
    (config_lib.StudentConfig, {"studentnet": "vgg16"}, "--studentnet"),
    (config_lib.MentorConfig, {"loss_p_percentile": 70}, "--loss_p_percentile"),
    (config_lib.MentorConfig, {"example_dropout_rates": "0.5,17,0.05,80"},
     "--example_dropout_rates"),
    (config_lib.MentorConfig, {"example_dropout_rates": "0.5,17,x,83"}, "--example_dropout_rates"),
    (config_lib.MentorConfig, {"example_dropout_rates": "1.5,100"}, "--example_dropout_rates"),
    (config_lib.MentorConfig, {"weighting": "mentornet"}, "--trained_mentornet_dir"),
    (config_lib.MentorConfig, {"weighting": "mentornet", "update_mentornet_epochs": (21,),
                               "burn_in_epoch": 10}, "--update_mentornet_epochs"),
    (config_lib.MentorConfig, {"burn_in_epoch": 101}, "--burn_in_epoch"),
])
def test_bad_values_name_their_flag(factory, kwargs, flag):
  with pytest.raises(ValueError, match=flag):
    factory(**kwargs)


def test_train_config_checks():
  with pytest.raises(ValueError, match="--train_log_dir"):
    config_lib.TrainConfig()
  with pytest.raises(ValueError, match="--lr_values"):
    config_lib.TrainConfig(train_log_dir="x", lr_values=(0.1, 0.01))
  with pytest.raises(ValueError, match="--lr_boundaries"):
    config_lib.TrainConfig(train_log_dir="x", lr_boundaries=(3, 2, 1))
  with pytest.raises(ValueError, match="--strategy"):
    config_lib.TrainConfig(train_log_dir="x", strategy="tpu")
  with pytest.raises(ValueError, match="--lr_boundaries"):
    config_lib.parse_int_list("1,b", "lr_boundaries")
  config = config_lib.TrainConfig(train_log_dir="x")
  assert '"loss_p_percentile": 0.7' in config.to_json()


def test_original_defaults():
  mentor = config_lib.MentorConfig()
  assert (mentor.loss_p_percentile, mentor.burn_in_epoch, mentor.loss_moving_average_decay,
          mentor.fixed_epoch_after_burn_in) == (0.7, 0, 0.5, False)
  train = config_lib.TrainConfig(train_log_dir="x")
  assert train.max_number_of_steps == 39000 and train.lr_boundaries == (19531, 25000, 30000)
  assert config_lib.DataConfig().batch_size == 128


def test_dropout_rate_list_as_the_original():
  rates = schedules.parse_dropout_rate_list("0.5, 17, 0.05, 78, 1.0, 5")
  assert len(rates) == 100 and rates[16] == 0.5 and rates[17] == 0.05 and rates[95] == 1.0
  assert schedules.parse_dropout_rate_list(["0.5", "17", "0.05", "83"])[99] == 0.05


def test_steps_per_epoch_is_whole_global_batches_unless_given():
  config = config_lib.TrainConfig(train_log_dir="x")
  assert config_lib.steps_per_epoch(config, 50000) == 390  # floor(50000 / 128)
  assert config_lib.steps_per_epoch(config, 100) == 1
  chunked = config_lib.TrainConfig(train_log_dir="x", steps_per_epoch=7, train_epochs=2)
  assert config_lib.steps_per_epoch(chunked, 50000) == 7
  # --steps_per_epoch only re-chunks the run: --train_epochs (and --num_epochs_per_decay) count
  # passes over the data (it used to make 2 epochs = 14 steps here).
  assert config_lib.data_epoch_steps(chunked, 50000) == 390
  assert config_lib.resolve_train_epochs(chunked, 50000).max_number_of_steps == 780


def test_exponential_decay_counts_data_epochs_whatever_steps_per_epoch():
  from mentornet_tf import train_lib  # pylint: disable=g-import-not-at-top  (imports TF)
  config = config_lib.TrainConfig(train_log_dir="x", lr_schedule="exponential",
                                  learning_rate=0.1, num_epochs_per_decay=2,
                                  learning_rate_decay_factor=0.5, steps_per_epoch=7)
  schedule = train_lib.build_learning_rate(config, config_lib.data_epoch_steps(config, 50000))
  assert float(schedule(779)) == pytest.approx(0.1) and float(schedule(780)) == pytest.approx(0.05)


def test_epoch_schedule_rules():
  assert schedules.current_epoch(50, 18, True) == 18
  assert schedules.current_epoch(50, 18, False) == 50
  assert schedules.burn_in_forces_weight(16, 18) and not schedules.burn_in_forces_weight(17, 18)
  assert not schedules.burn_in_forces_weight(0, 0)


@pytest.mark.parametrize("factory,kwargs,flag", [
    (config_lib.DataConfig, {"noise_seed": -1}, "--noise_seed"),
    (config_lib.DataConfig, {"shuffle_buffer": 0}, "--shuffle_buffer"),
    (config_lib.DataConfig, {"noise_fraction": float("nan")}, "--noise_fraction"),
    (config_lib.StudentConfig, {"weight_decay": -1e-4}, "--weight_decay"),
    (config_lib.StudentConfig, {"weight_decay": float("inf")}, "--weight_decay"),
    (config_lib.MentorConfig, {"curriculum": "self_paces"}, "--curriculum"),
    (config_lib.MentorConfig, {"curriculum_lambda1": float("nan")}, "--curriculum_lambda1"),
    (config_lib.MentorConfig, {"curriculum_lambda2": float("inf")}, "--curriculum_lambda2"),
    (config_lib.MentorConfig, {"curriculum_gamma": -1.0}, "--curriculum_gamma"),
    (config_lib.MentorConfig, {"curriculum_step_size": float("inf")}, "--curriculum_step_size"),
    (config_lib.TrainConfig, {"seed": -1}, "--seed"),
    (config_lib.TrainConfig, {"seed": 2**32}, "--seed"),
    (config_lib.TrainConfig, {"momentum": 1.0}, "--momentum"),
    (config_lib.TrainConfig, {"momentum": -0.1}, "--momentum"),
    (config_lib.TrainConfig, {"learning_rate": float("inf")}, "--learning_rate"),
    (config_lib.TrainConfig, {"learning_rate": float("nan")}, "--learning_rate"),
    (config_lib.TrainConfig, {"lr_values": (0.1, float("inf"), 0.001, 0.0001)}, "--lr_values"),
    (config_lib.TrainConfig, {"lr_boundaries": (-1, 5, 9)}, "--lr_boundaries"),
    (config_lib.TrainConfig, {"learning_rate_decay_factor": float("nan")},
     "--learning_rate_decay_factor"),
    (config_lib.TrainConfig, {"num_epochs_per_decay": float("inf")}, "--num_epochs_per_decay"),
    (config_lib.TrainConfig, {"summary_steps": 0}, "--summary_steps"),
    (config_lib.TrainConfig, {"save_interval_secs": -1}, "--save_interval_secs"),
    (config_lib.TrainConfig, {"save_summaries_secs": -1}, "--save_summaries_secs"),
    (config_lib.TrainConfig, {"save_summaries_secs": 60}, "--save_summaries_secs"),
    (config_lib.TrainConfig, {"eval_interval": -1}, "--eval_interval"),
    (config_lib.TrainConfig, {"num_replicas_cpu": -2, "strategy": "mirrored"},
     "--num_replicas_cpu"),
    (config_lib.TrainConfig, {"num_replicas_cpu": 2}, "--num_replicas_cpu.*--strategy=default"),
    (config_lib.TrainConfig, {"verbose": 3}, "--verbose"),
])
def test_numeric_flags_are_range_checked(factory, kwargs, flag):
  if factory is config_lib.TrainConfig:
    kwargs = dict(kwargs, train_log_dir="x")
  with pytest.raises(config_lib.ConfigError, match=flag):
    factory(**kwargs)


def test_schedule_errors_are_config_errors():
  """A malformed --example_dropout_rates is a ConfigError (exit 2), not a ScheduleError."""
  for spec in ("0.5,17,x,83", "0.5,17,0.05", "1.5,100", "0.5,17,0.05,80"):
    with pytest.raises(config_lib.ConfigError, match="--example_dropout_rates"):
      config_lib.MentorConfig(example_dropout_rates=spec)


def test_curriculum_names_equal_the_curricula():
  from mentornet_tf.mentor import curricula  # pylint: disable=g-import-not-at-top  (imports TF)
  assert config_lib.CURRICULUM_NAMES == tuple(curricula.CURRICULA)
  for name in config_lib.CURRICULUM_NAMES:
    config_lib.MentorConfig(curriculum=name)


def test_curriculum_flag_hparams_equal_the_curricula_defaults():
  from mentornet_tf.mentor import curricula  # pylint: disable=g-import-not-at-top  (imports TF)
  flag_names = {"lambda1", "lambda2", "gamma"}
  assert config_lib.CURRICULUM_FLAG_HPARAMS == {
      name: tuple(n for n in ("lambda1", "lambda2", "gamma")
                  if n in c.default_hparams and n in flag_names)
      for name, c in curricula.CURRICULA.items()}


@pytest.mark.parametrize("kwargs,needle", [
    ({"curriculum": "self_paced", "curriculum_gamma": 3.0},
     "--curriculum=self_paced does not take it (it takes --curriculum_lambda1)"),
    ({"curriculum": "baseline", "curriculum_lambda1": 0.1}, "it takes none of them"),
    ({"curriculum": "focal_loss", "curriculum_lambda2": 2.0}, "--curriculum_lambda2"),
])
def test_a_curriculum_hparam_the_curriculum_does_not_take_is_refused(kwargs, needle):
  """Before: dropped silently (the run used the curriculum's own value)."""
  with pytest.raises(config_lib.ConfigError, match=re.escape(needle)):
    config_lib.MentorConfig(weighting="curriculum", **kwargs)
  with pytest.raises(config_lib.ConfigError, match="applies to --weighting=curriculum only"):
    config_lib.MentorConfig(weighting="none", curriculum="spcl_linear", curriculum_gamma=1.5)


def test_curriculum_hparams_default_to_the_curriculum_own():
  """No --curriculum_gamma: spcl_linear and mentornet_pd keep their own gamma 1 (the flag's
  former default 2 overrode it); a given one is passed on."""
  assert config_lib.MentorConfig(weighting="curriculum",
                                 curriculum="spcl_linear").curriculum_hparams() == {}
  assert config_lib.MentorConfig(weighting="curriculum", curriculum="closed_form",
                                 curriculum_lambda2=2.0).curriculum_hparams() == {"lambda2": 2.0}


def test_edge_values_are_accepted():
  config_lib.TrainConfig(train_log_dir="x", momentum=0.0, seed=2**32 - 1, save_interval_secs=0,
                         eval_interval=0, verbose=0, num_replicas_cpu=1,
                         lr_boundaries=(0, 5, 9))
  config_lib.TrainConfig(train_log_dir="x", strategy="mirrored", num_replicas_cpu=4, verbose=2)
  config_lib.DataConfig(noise_seed=2**63 - 1, shuffle_buffer=1)
  config_lib.StudentConfig(weight_decay=0.0)
