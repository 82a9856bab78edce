# Two set-up commands, each doing all its own installing:  make demo  and  make test.
# TORCH picks the PyTorch build; the default is the CPU build. Elsewhere override it, e.g.
#   make demo TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu124"
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
PY      = $(VENV)/bin/python
OUT    ?= runs/demo

.PHONY: install install-test demo test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

.make-install: $(PY) pyproject.toml
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e .
	touch $@

.make-install-test: .make-install
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: .make-install
install-test: .make-install-test

demo: .make-install
	$(VENV)/bin/deepscope esl --out $(OUT)

test: .make-install-test
	$(PY) -m pytest -q

bench: .make-install-test
	$(PY) benchmarks/esl_speed.py
	$(PY) benchmarks/stacked_speed.py
	$(PY) benchmarks/metrics_speed.py
	$(PY) benchmarks/curvature_speed.py
	$(PY) benchmarks/lottery_speed.py
	$(PY) benchmarks/le_sde_speed.py

clean:
	rm -rf $(VENV) .make-install .make-install-test runs
