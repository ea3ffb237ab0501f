"""Pinned packages in a serving container (container_pip's pure core): exact pins only, the
installed versions as the container's python3 prints them, what to install, pip's command
line, and pip's failures as operators see them -- from real captured outputs."""
from pathlib import Path

import pytest

from ansible_collections.npu.cluster.plugins.module_utils import pip_pins

FIXTURES = Path(__file__).parent / "fixtures"
RUNBOOK_004 = ["datasets==3.2.0", "opencv-python==4.10.0.84",
               "opencv-python-headless==4.10.0.84", "triton==3.2.0"]


def fixture(name):
    return (FIXTURES / name).read_text()


def test_the_runbooks_pins_parse():
    wanted, problems = pip_pins.pins(RUNBOOK_004)
    assert problems == []
    assert wanted[1] == ("opencv-python", "4.10.0.84")


@pytest.mark.parametrize("spec", ["triton", "triton>=3.2", "triton==", "tri ton==3.2.0",
                                  "triton==3.2.0; rm -rf /"])
def test_anything_but_an_exact_pin_is_refused(spec):
    wanted, problems = pip_pins.pins([spec])
    assert wanted == []
    assert problems == ["%r is not an exact pin NAME==VERSION (a range or an unpinned package "
                        "would change from run to run)" % spec]


def test_versions_of_a_container_that_has_none_of_them():
    found, error = pip_pins.parse_versions(0, fixture("pip_versions_none.json"))
    assert error is None and found == {"datasets": None, "triton": None}
    todo = pip_pins.plan([("datasets", "3.2.0"), ("triton", "3.2.0")], found)
    assert todo == [{"name": "datasets", "version": "3.2.0", "installed": None},
                    {"name": "triton", "version": "3.2.0", "installed": None}]


def test_only_what_differs_is_installed():
    todo = pip_pins.plan([("datasets", "3.2.0"), ("triton", "3.2.0")],
                         {"datasets": "3.2.0", "triton": "3.1.0"})
    assert todo == [{"name": "triton", "version": "3.2.0", "installed": "3.1.0"}]
    assert pip_pins.plan([("datasets", "3.2.0")], {"datasets": "3.2.0"}) == []


def test_a_container_without_python_is_named():
    found, error = pip_pins.parse_versions(127, "", "OCI runtime exec failed: exec failed: "
                                                    "unable to start container process: exec: "
                                                    "\"python3\": executable file not found in "
                                                    "$PATH: unknown")
    assert found is None
    assert error == ("could not read the installed packages with the container's python3 (exit "
                     "127: OCI runtime exec failed: exec failed: unable to start container "
                     "process: exec: \"python3\": executable file not found in $PATH: unknown)")


def test_pip_command_line_from_the_index_or_a_wheel_directory():
    todo = [{"name": "triton", "version": "3.2.0", "installed": None}]
    assert pip_pins.pip_argv("python3", todo) == [
        "python3", "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
        "triton==3.2.0"]
    assert pip_pins.pip_argv("python3", todo, "/home/workspace/wheels")[-4:] == [
        "--no-index", "--find-links", "/home/workspace/wheels", "triton==3.2.0"]


def test_pip_missing_in_the_image():
    text = pip_pins.failure_text("gcu-node-1", "test_env", 1, fixture("pip_no_pip.stdout"),
                                 fixture("pip_no_pip.stderr"))
    assert text == ("gcu-node-1: pip is missing in container test_env (python3 -m pip: No module "
                    "named pip); use an image with pip, or install python3-pip in it")


def test_a_package_missing_from_the_wheel_directory():
    text = pip_pins.failure_text("gcu-node-1", "test_env", 1,
                                 fixture("pip_not_in_wheel_dir.stdout"),
                                 fixture("pip_not_in_wheel_dir.stderr"), "/home/workspace/wheels")
    assert text == ("gcu-node-1: pip install in container test_env failed (exit 1) from the "
                    "wheel directory /home/workspace/wheels: ERROR: Could not find a version "
                    "that satisfies the requirement triton==3.2.0 (from versions: none) | ERROR: "
                    "No matching distribution found for triton==3.2.0")
