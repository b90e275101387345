"""`ci-toolkit init`'s logic: what the project already declares (detect), the commented
[tool.ci-toolkit] table made from it (render), how it goes into pyproject.toml without touching any other
byte (place), and the GitHub workflow template shipped with the package (template).
"""
