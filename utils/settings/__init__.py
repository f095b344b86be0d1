"""Hyper-parameters, defined once: the setting groups of a Step 1 run and of a joint run (utils.settings.groups),
the flags they generate (utils.settings.flags), and their config.json form and identity (utils.settings.config).

For Step 2, predict and report: `load_settings(run_dir)` / `settings_from_config(config, path)` read a run's
settings (grouped or flat config.json); `same_settings(a, b)` / `first_difference(a, b)` compare two runs."""
from utils.settings.config import (Settings, check_same_settings, first_difference, flat, load_settings,
                                   same_settings, settings_from_config, to_config)
from utils.settings.groups import (JOINT, STEP1, Data, Joint, JointData, JointOptimiser, JointOptions,
                                   JointSettings, Model, Optimiser, Options, Pruning, Step1Data, Step1Optimiser,
                                   Step1Options, Step1Settings)

__all__ = ["JOINT", "STEP1", "Data", "Joint", "JointData", "JointOptimiser", "JointOptions", "JointSettings", "Model",
           "Optimiser", "Options", "Pruning", "Settings", "Step1Data", "Step1Optimiser", "Step1Options",
           "Step1Settings", "check_same_settings", "first_difference", "flat", "load_settings", "same_settings",
           "settings_from_config", "to_config"]
