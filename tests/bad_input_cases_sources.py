"""Bad-input cases of `python -m mentornet_tf.train` for the image-file sources (filelist, folder,
webvision*; data/image_files.py), the tfds ones (imagenet2012, tfds:NAME; data/tfds_sources.py) and
converted shards (tfrecord_shards; data/shards.py), and of the converter
(`python -m mentornet_tf.data.convert`), run by tests/test_bad_inputs.py.

Every case would train a tiny CNN into `{dir}/run` should it be wrongly accepted. Validation only
checks that the images exist (it decodes none), so the setups write placeholder bytes as images.
"""
import json

from bad_input_harness import Case

BASE = ["--studentnet=tiny_cnn", "--image_size=16", "--batch_size=2", "--lr_schedule=constant",
        "--max_number_of_steps=2", "--eval_interval=0", "--save_interval_secs=0", "--verbose=0",
        "--train_log_dir={dir}/run", "--data_dir={dir}/data"]
FILELIST = ["--dataset_name=filelist", "--num_classes=3"]


# A converted ILSVRC12 val (test split only) whose class names are not WebVision's synsets.
_IMAGENET_MANIFEST = json.dumps({
    "format": "mentornet_tf.tfrecord_shards/1", "split": "test",
    "source": {"dataset_name": "imagenet2012"}, "num_examples": 0, "num_classes": 3,
    "class_names": ["n09999990", "n09999991", "n09999992"],
    "image": {"format": "encoded", "shape": None}, "shards": []})


def _case(case_id, args, message, **kwargs):
  return Case(case_id, "train", BASE + list(args), message, **kwargs)


def _convert_case(case_id, args, message, **kwargs):
  """`python -m mentornet_tf.data.convert` of a filelist under {dir}/data into {dir}/out."""
  base = ["--dataset_name=filelist", "--num_classes=3", "--data_dir={dir}/data",
          "--output_dir={dir}/out"]
  return Case(case_id, "convert", base + list(args), message, **kwargs)


def _files(files):
  """Writes {relative path: text} under the case directory (images as placeholder bytes)."""
  def setup(case_dir):
    for name, text in files.items():
      path = case_dir / name
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_text(text)
  return setup


def _chain(*setups):
  def setup(case_dir):
    for one in setups:
      one(case_dir)
  return setup


def _filelist(train_lines, test_lines=("t/0.jpg 0",), images=("a/0.jpg", "t/0.jpg")):
  files = {f"data/{image}": "jpeg" for image in images}
  files["data/train.txt"] = "".join(line + "\n" for line in train_lines)
  files["data/test.txt"] = "".join(line + "\n" for line in test_lines)
  return _files(files)


def _folder(train_classes, val_classes):
  files = {f"data/train/{name}/0.jpg": "jpeg" for name in train_classes}
  files.update({f"data/val/{name}/0.jpg": "jpeg" for name in val_classes})
  return _files(files)


def _webvision(synsets=1000, google="google/q0001/a.jpg 0\n"):
  files = {"data/info/train_filelist_google.txt": google,
           "data/info/train_filelist_flickr.txt": "", "data/info/val_filelist.txt": "",
           "data/google/q0001/a.jpg": "jpeg"}
  if synsets:
    files["data/info/synsets.txt"] = "".join(f"n{i:08d} c\n" for i in range(synsets))
  return _files(files)


CASES = [
    _case("train_filelist_malformed_line", FILELIST,
          r"train.txt:2: expected '<relative path> <label>'",
          setup=_filelist(["a/0.jpg 0", "a/0.jpg"])),
    _case("train_filelist_label_not_an_integer", FILELIST, r"train.txt:1: .*integer label",
          setup=_filelist(["a/0.jpg cat"])),
    _case("train_filelist_missing_image", FILELIST,
          r"train.txt:2: the image .*data/a/9.jpg does not exist",
          setup=_filelist(["a/0.jpg 0", "a/9.jpg 1"])),
    _case("train_filelist_label_out_of_range", FILELIST,
          r"test.txt:1: label 3 is outside \[0, 3\) \(--num_classes=3\)",
          setup=_filelist(["a/0.jpg 0"], test_lines=["t/0.jpg 3"])),
    _case("train_filelist_without_num_classes", ["--dataset_name=filelist"],
          r"--num_classes=0: --dataset_name=filelist needs the class count",
          setup=_filelist(["a/0.jpg 0"])),
    _case("train_filelist_missing_list", FILELIST + ["--train_list=nope.txt"],
          r"the image list .*nope.txt does not exist", setup=_filelist(["a/0.jpg 0"])),
    _case("train_folder_class_mismatch", ["--dataset_name=folder"],
          r"val: its class folders differ .*only in train: \['b'\]; only here: \['c'\]",
          setup=_folder(["a", "b"], ["a", "c"])),
    _case("train_folder_no_classes", ["--dataset_name=folder"], r"train: no class folders found",
          setup=_files({"data/readme.txt": "x"})),
    _case("train_webvision_noise_fraction", ["--dataset_name=webvision_mini",
                                             "--noise_fraction=0.4"],
          r"--noise_fraction=0.4 is invalid: --dataset_name=webvision_mini labels are already "
          r"noisy", setup=_webvision()),
    _case("train_webvision_missing_synsets", ["--dataset_name=webvision"],
          r"info/synsets.txt does not exist", setup=_webvision(synsets=0)),
    _case("train_webvision_label_out_of_range", ["--dataset_name=webvision"],
          r"train_filelist_google.txt:1: label 1000 is outside \[0, 1000\)",
          setup=_webvision(google="google/q0001/a.jpg 1000\n")),
    _case("train_imagenet2012_not_prepared", ["--dataset_name=imagenet2012"],
          r"no prepared tfds dataset imagenet2012 .*tfds build imagenet2012 --manual_dir=M",
          setup=_files({"data/ILSVRC2012_img_val.tar": "not prepared"})),
    _case("train_tfds_name_not_prepared", ["--dataset_name=tfds:food101"],
          r"no prepared tfds dataset food101 .*tfds build food101 --data_dir=D",
          setup=_files({"data/readme.txt": "x"})),
    _case("train_webvision_imagenet_val_synsets_do_not_match",
          ["--dataset_name=webvision_mini", "--imagenet_val_dir={dir}/imagenet"],
          r"--imagenet_val_dir='.*imagenet': its 3 classes \(e.g. n09999990, n09999991\) lack 50 "
          r"of the 50 WebVision synsets: n00000000, n00000001, .*n00000004 and 45 more\. "
          r".* by synset name",
          setup=_chain(_webvision(), _files({"imagenet/test/manifest.json": _IMAGENET_MANIFEST}))),
    _case("train_shards_not_converted", ["--dataset_name=tfrecord_shards"],
          r"--data_dir='.*data': no converted train split \(expected .*train/manifest.json, "
          r"written last by `python -m mentornet_tf.data.convert",
          setup=_files({"data/train/train-00000-of-00002.tfrecord": "partial"})),
    _case("train_shards_manifest_not_json", ["--dataset_name=tfrecord_shards"],
          r"train/manifest.json is not JSON", setup=_files({"data/train/manifest.json": "{"})),
    # The converter (entry `convert`).
    _convert_case("convert_unknown_dataset", ["--dataset_name=imagenet"],
                  r"--dataset_name='imagenet' is invalid: choose one of .*tfrecord_shards.*, "
                  r"or tfds:NAME", setup=_filelist(["a/0.jpg 0"])),
    _convert_case("convert_missing_data", ["--data_dir={dir}/nowhere"],
                  r"--data_dir='.*nowhere' is not a directory", setup=_files({"x.txt": "x"})),
    _convert_case("convert_missing_image", [], r"train.txt:2: the image .*data/a/9.jpg does not "
                  r"exist", setup=_filelist(["a/0.jpg 0", "a/9.jpg 1"])),
    _convert_case("convert_no_output_dir", ["--output_dir="],
                  r"--output_dir='' is invalid: the directory the shards are written to is "
                  r"required", setup=_filelist(["a/0.jpg 0"])),
    _convert_case("convert_output_under_a_file", ["--output_dir={dir}/file/out"],
                  r"--output_dir='.*file/out' is not a writable directory: '.*file' is a file",
                  setup=_chain(_filelist(["a/0.jpg 0"]), _files({"file": "x"}))),
    _convert_case("convert_output_holds_another_conversion", [],
                  r"--output_dir='.*out': .*out/train holds another conversion \(manifest.json: "
                  r"source: None there, .*; num_examples: 5 there, 1 now",
                  setup=_chain(_filelist(["a/0.jpg 0"]), _files({
                      "out/train/manifest.json": '{"format": "mentornet_tf.tfrecord_shards/1", '
                                                 '"split": "train", "num_examples": 5}'}))),
    _convert_case("convert_output_holds_other_files", [],
                  r"out/train holds files that are not a conversion \(notes.txt\)",
                  setup=_chain(_filelist(["a/0.jpg 0"]), _files({"out/train/notes.txt": "x"}))),
    _convert_case("convert_bad_splits", ["--splits=train,val"],
                  r"--splits='train,val' is invalid: choose train, test or both",
                  setup=_filelist(["a/0.jpg 0"])),
]
