"""One run-folder logic for both training scripts: a run folder is new, stopped or finished; re-running a folder
that holds a run needs --resume (or, for a joint run, --overwrite), resuming needs the same settings, and the run
that goes on claims the folder (utils.runs.resume.RunLock) only if no other run wrote it meanwhile. Every refusal is
a RunRefused with one line."""
import os
import shutil
from dataclasses import dataclass

from utils.runs.resume import RunFolderBusy, RunLock
from utils.runs.layout import CONFIG, LOCK
from utils.runtime import read_json
from utils.settings import Settings, check_same_settings, settings_from_config

NEW, STOPPED, FINISHED = "new", "stopped", "finished"


class RunRefused(Exception):
    """The run cannot go on in its folder; the message is the one line to print."""


@dataclass(frozen=True)
class RunFolder:
    """A training run's folder: `marker` is the file written last, that marks the run finished; `flag` the
    flag(s) that chose the folder; `what` the run in messages; `elsewhere` how to start it elsewhere instead."""

    path: str
    marker: str
    flag: str
    what: str
    elsewhere: str

    def state(self) -> str:
        """FINISHED (its marker written), STOPPED (started: config.json written) or NEW."""
        if os.path.isfile(os.path.join(self.path, self.marker)):
            return FINISHED
        return STOPPED if os.path.isfile(os.path.join(self.path, CONFIG)) else NEW

    def check_folder(self) -> None:
        """Refuse a path that exists but is no folder."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunRefused(f"{self.flag}: {self.path} is not a folder")

    def saved_settings(self) -> Settings:
        """The settings in the folder's config.json."""
        self.check_folder()
        path = os.path.join(self.path, CONFIG)
        try:
            return settings_from_config(read_json(path), path)
        except (FileNotFoundError, ValueError) as error:
            raise RunRefused(str(error)) from None

    def open(self, settings: Settings, resume: bool, overwrite: bool = False) -> str:
        """The folder's state, once it may take this run: a folder (not a file); holding a run only with --resume
        and the same settings, or with --overwrite."""
        self.check_folder()
        state = self.state()
        if state == NEW or overwrite:
            return state
        if not resume:
            raise RunRefused(f"{self.path} exists and holds a {state} {self.what}: pass --resume to continue it, "
                             f"{self.elsewhere}")
        try:
            check_same_settings(os.path.join(self.path, CONFIG), self.saved_settings(), settings)
        except ValueError as error:
            raise RunRefused(str(error)) from None
        return state

    def claim(self, state: str) -> RunLock:
        """Take the folder's lock; refused when another run holds it or wrote the folder since `open`."""
        try:
            lock = RunLock(self.path).acquire()
        except (RunFolderBusy, OSError) as error:
            raise RunRefused(str(error)) from None
        if self.state() != state:
            lock.release()
            raise RunRefused(f"{self.path} was written by another run meanwhile; start again with --resume")
        return lock

    def clear(self) -> None:
        """--overwrite: empty the claimed folder (its lock file aside) before a fresh start."""
        for name in os.listdir(self.path):
            if name != LOCK:
                path = os.path.join(self.path, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
