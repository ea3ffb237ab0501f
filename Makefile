# The two commands (see README): `make demo` runs the main job on the lab, `make test` runs
# every test.  Both install what they need first (scripts/setup.sh) and are safe to re-run.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
SHAPE ?= a3x2
NAME ?= lab
# ENGINE=real: the demo serves with vLLM's CPU build and a tiny model (shape a2x2) instead of
# the simulated engine
ENGINE ?= sim
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup images engine-images test unit sanity lint docs molecule lab-test demo lab-up lab-down lab-status lab-reset clean

setup:
	@scripts/setup.sh

images: setup
	@$(BIN)/npu-lab build

# the real engine's install (vLLM's CPU build, ~2.3 GB in the shared directory), its image and
# the tiny model: needed by the lab's real-engine and benchmark tests (the client image and
# its tokenizer), the benchmark Molecule scenario and `make demo ENGINE=real`
engine-images: setup
	@$(BIN)/npu-lab build --engine real

test: setup images engine-images
	@scripts/test.sh

unit: setup
	@scripts/ansible_test.sh units
	@$(BIN)/pytest -q -p no:cacheprovider tests/project

sanity: setup
	@scripts/ansible_test.sh sanity

lint: setup
	@scripts/lint.sh

docs: setup
	@for role in roles/*/; do $(BIN)/aar-doc "$$role" markdown >/dev/null; done

molecule: setup images engine-images
	@scripts/molecule.sh

lab-test: setup images engine-images
	@$(BIN)/pytest -q -p no:cacheprovider tests/lab

demo: setup images
	@scripts/demo.sh $(if $(filter real,$(ENGINE)),$(if $(filter command line,$(origin SHAPE)),$(SHAPE),a2x2),$(SHAPE)) $(ENGINE)

lab-up: setup images
	@$(BIN)/npu-lab up $(SHAPE) --name $(NAME)

lab-down: setup
	@$(BIN)/npu-lab down --name $(NAME)

lab-status: setup
	@$(BIN)/npu-lab status

lab-reset: setup
	@$(BIN)/npu-lab reset --name $(NAME)

clean: setup
	@$(BIN)/npu-lab down --all
