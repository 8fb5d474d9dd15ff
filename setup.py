"""The metadata lives in pyproject.toml; this adds one build step: the shipped default model
(exported_models/default.onnx and .json, kept at the top of the repository) is copied into the
package as pianokit/exported_models/, so a wheel install scores from any folder."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("default.onnx", "default.json", "README.md")


class BuildWithModel(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "pianokit" / "exported_models"
        target.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED:
            source = HERE / "exported_models" / name
            if source.is_file():
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithModel})
