#!/usr/bin/env bash
# The documentation as CI builds it: install '.[docs]', build the HTML with
# warnings as errors (every loss page, the API reference and the gallery,
# whose scripts run and must not fail), then run every doctest of the pages
# and of the docstrings they include.
#
#   bash tools/build_docs.sh            # into the active environment (CI's venv)
#   bash tools/build_docs.sh --fresh    # a fresh venv .venv-docs first
#
# Output: docs/_build/html (open docs/_build/html/index.html).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp() { echo "docs: [$(( $(date +%s) - start )) s] $*"; }

if [ "${1:-}" = "--fresh" ]; then
  stamp "fresh venv .venv-docs"
  rm -rf .venv-docs
  python3 -m venv .venv-docs
  # shellcheck disable=SC1091
  . .venv-docs/bin/activate
  python -m pip install --upgrade pip >/dev/null
fi

if [ "${1:-}" != "--fresh" ] && python -c "import fastloss" 2>/dev/null; then
  # CI's venv already holds this tree's build: only the extra's requirements
  # (pip would otherwise rebuild the package from source, minutes on 2 cores).
  stamp "pip install the [docs] requirements (fastloss already installed)"
  python - <<'PY' > .docs-requirements.txt
import tomllib
with open("pyproject.toml", "rb") as fh:
    print("\n".join(tomllib.load(fh)["project"]["optional-dependencies"]["docs"]))
PY
  pip install -r .docs-requirements.txt
  rm -f .docs-requirements.txt
else
  stamp "pip install '.[docs]'"
  pip install '.[docs]'
fi

# Everything generated is rebuilt: the gallery would otherwise skip scripts
# whose source did not change (it keys on their MD5), and the loss pages are
# written from the registry of the package just installed.
rm -rf docs/_build docs/auto_examples docs/generated

# `import fastloss` in conf.py is the installed package: the repository root
# (on sys.path with `python -m`) holds no fastloss/, the sources are in src/.
stamp "HTML (sphinx-build -W)"
python -m sphinx -W --keep-going -b html -d docs/_build/doctrees docs docs/_build/html

stamp "doctests (sphinx-build -b doctest)"
python -m sphinx -W --keep-going -b doctest -d docs/_build/doctrees docs docs/_build/doctest

pages=$(find docs/_build/html -name '*.html' -not -path '*/_static/*' -not -path '*/_sources/*' \
        -not -path '*/_modules/*' | wc -l)
stamp "finished: $pages HTML pages in docs/_build/html"
