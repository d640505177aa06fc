"""A researcher's own architecture: registered by a plug-in (file, $SEM_PLUGINS, entry point), saved as safetensors
+ card, loaded back by card or by name ($SEM_MODELS_DIR), and refused clearly when its plug-in is not loaded."""
import importlib.metadata
import json
import os
import sys

import pytest
import torch
import torch.nn as nn

import sem_core
from sem_core.errors import CheckpointError
from sem_core.models import create_model, list_models, load_plugin, register_architecture
from sem_core.models.checkpoint import SHIPPED_DIR, load_checkpoint, save_checkpoint, seal
from sem_core.models.plugins import ENTRY_POINT_GROUP, PluginError, ensure_plugins, load_entry_points
from sem_core.models.registry import MODELS

from plugin_helpers import CARD, PLUGIN_SOURCE, isolated_registry, plugin_file, write_module  # noqa: F401


@pytest.fixture
def saved(plugin_file, tmp_path):
    """(SmallCNN(width=3) as saved, its card's path, the plug-in's module name)."""
    module = load_plugin(plugin_file)
    model = module.SmallCNN(width=3).eval()
    return model, save_checkpoint(model, tmp_path / "runs", CARD, "small"), plugin_file.stem


def test_saved_user_cnn_loads_back_with_equal_outputs(saved):
    model, card_path, module = saved
    loaded, card = sem_core.load_model_with_card(card_path, "cpu")
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(loaded(x), model(x)) and type(loaded) is type(model) and not loaded.training
    assert card["model"] == "SmallCNN" and card["architecture"] == f"{module}:SmallCNN"
    assert card["config"] == {"width": 3, "hidden": 16}
    assert card["input_shape"] == [1, 28, 28] and card["n_classes"] == 10 and len(card["sha256"]) == 64
    assert card_path.with_suffix(".safetensors").read_bytes()[:2] != b"\x80\x02"   # not a pickle


def test_card_without_its_plugin_is_refused_and_imports_nothing(saved):
    _, card_path, module = saved
    del MODELS._items["SmallCNN"]            # a fresh process that was not given the plug-in
    sys.modules.pop(module)
    with pytest.raises(CheckpointError, match=rf"architecture '{module}:SmallCNN' \(model 'SmallCNN'\) is not "
                                              rf"registered: pass --plugin FILE .*--plugin {module}\.py.*SEM_PLUGINS"):
        sem_core.load_model(card_path, "cpu")
    assert module not in sys.modules


def test_another_class_under_the_cards_name_is_refused(saved):
    _, card_path, module = saved
    del MODELS._items["SmallCNN"]
    register_architecture(type("SmallCNN", (nn.Module,), {}))
    with pytest.raises(CheckpointError, match=f"saved from architecture '{module}:SmallCNN'"):
        load_checkpoint(card_path)


def test_hostile_config_of_a_user_architecture_is_a_checkpoint_error(saved):
    _, card_path, _ = saved
    card = json.loads(card_path.read_text())
    for config, message in (({"width": 3, "depth": 2}, "unknown config keys .*depth.*known keys: width, hidden"),
                            ({"width": "3"}, "config 'width' = '3'"), ({"width": -1}, "bad config")):
        card_path.write_text(json.dumps(seal({**card, "config": config})))
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(card_path)


def test_save_needs_the_constructor_arguments(plugin_file, tmp_path):
    cls = load_plugin(plugin_file).SmallCNN
    model = cls(width=2)
    del model.init_kwargs
    with pytest.raises(CheckpointError, match="pass config=.*self.init_kwargs"):
        save_checkpoint(model, tmp_path, CARD)
    with pytest.raises(CheckpointError, match="does not rebuild this SmallCNN: .*conv.weight"):
        save_checkpoint(model, tmp_path, CARD, config={"width": 5})
    card_path = save_checkpoint(model, tmp_path, CARD, config={"width": 2})
    assert json.loads(card_path.read_text())["config"] == {"width": 2}


def test_an_unregistered_module_says_how_to_register_it(tmp_path):
    with pytest.raises(CheckpointError, match="not a registered model: register .*register_architecture"):
        save_checkpoint(nn.Linear(2, 2), tmp_path, {})


def test_registering_twice_is_a_no_op_and_a_taken_name_raises(isolated_registry):
    cls = type("Tiny", (nn.Module,), {})
    assert register_architecture(cls) is cls and register_architecture(cls) is cls
    with pytest.raises(ValueError, match="'Tiny' is already registered"):
        register_architecture(type("Tiny", (nn.Module,), {}))
    with pytest.raises(ValueError, match="already registered"):
        register_architecture(cls, "cnn")
    assert isinstance(create_model("Tiny"), cls)


@pytest.mark.parametrize("source, message", [
    ("def broken(:\n", "SyntaxError"),
    ("import no_such_module_for_sem\n", "ModuleNotFoundError: No module named 'no_such_module_for_sem'"),
    ("raise RuntimeError('boom\\nsecond line')\n", "RuntimeError: boom second line"),
])
def test_plugin_errors_are_one_line_naming_the_file(tmp_path, source, message):
    path = write_module(tmp_path, source, "broken")
    with pytest.raises(PluginError, match=message) as info:
        load_plugin(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value) and path.stem not in sys.modules
    with pytest.raises(PluginError, match="file not found"):
        load_plugin(tmp_path / "absent.py")
    with pytest.raises(PluginError, match="plug-in module 'no_such_module_for_sem' failed to import"):
        load_plugin("no_such_module_for_sem")


def test_sem_plugins_takes_files_and_module_names(plugin_file, tmp_path, monkeypatch):
    other = write_module(tmp_path, PLUGIN_SOURCE.replace("register_architecture(SmallCNN)",
                                                         "register_architecture(SmallCNN, 'other-cnn')"), "other")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SEM_PLUGINS", f"{plugin_file}{os.pathsep}{other.stem}")
    try:
        ensure_plugins()
        assert {"SmallCNN", "other-cnn"} <= set(list_models())
        assert sys.modules[other.stem].__file__ == str(other)
    finally:
        sys.modules.pop(other.stem, None)


def test_entry_point_group_registers_classes_and_imports_modules(plugin_file, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    module = plugin_file.stem
    points = [importlib.metadata.EntryPoint("tiny", f"{module}:SmallCNN", ENTRY_POINT_GROUP),
              importlib.metadata.EntryPoint("all", module, ENTRY_POINT_GROUP)]
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [p for p in points if p.group == group])
    assert load_entry_points() == ["tiny", "all"]
    assert MODELS.get("tiny") is MODELS.get("SmallCNN") is sys.modules[module].SmallCNN
    points.append(importlib.metadata.EntryPoint("bad", "no_such_module_for_sem", ENTRY_POINT_GROUP))
    with pytest.raises(PluginError, match=r"entry point 'bad = no_such_module_for_sem' \(group sem_explorer.models\)"):
        load_entry_points()


def test_sem_models_dir_cards_are_listed_and_loaded_by_name(saved, tmp_path, monkeypatch):
    model, card_path, _ = saved
    folder = card_path.parent
    (folder / "cnn.json").write_text((SHIPPED_DIR / "cnn.json").read_text())       # a shipped name: shipped wins
    no_data = {k: v for k, v in json.loads(card_path.read_text()).items() if k != "data"}
    (folder / "no-data.json").write_text(json.dumps(no_data))                         # not usable: not listed
    monkeypatch.setenv("SEM_MODELS_DIR", str(folder))
    assert sem_core.list_shipped("SmallCNN") == ["small"]
    assert sem_core.list_shipped() == sorted(sem_core.list_shipped("cnn") + sem_core.list_shipped("senn")
                                             + sem_core.list_shipped("protodl") + ["small"])
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(sem_core.load_model("small", "cpu")(x), model(x))
    assert sem_core.model_card("cnn")["sha256"] == json.loads((SHIPPED_DIR / "cnn.json").read_text())["sha256"]
