"""Packaging glue pyproject.toml cannot express: the package list is found automatically *plus*
``taxreport.templates``, which pyproject.toml maps to the top-level ``templates/`` folder (package-dir,
package-data), so the report templates ship inside the wheel. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["taxreport", "taxreport.*"]), "taxreport.templates"])
