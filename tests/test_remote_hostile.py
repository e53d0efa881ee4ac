"""A hostile local user against `invoke ssh-testbed-up` (experiments/remote/vhosts.py).

The testbed's state (keys, authorized_keys, sshd configs, state.json, the
inventory whose `python` remote-run executes as root) must be impossible for
another user to claim. Here root plays the other user too: it pre-creates the
state folders owned by `nobody`, plants symbolic links (state.tmp, key files,
the inventory) aimed at a root-owned file, and shows that the project refuses
with an error naming the problem, and that the root-owned file is untouched.

Every test uses a temporary base (vhosts.STATE_ROOT, or WIRECAP_SSHBED_ROOT),
never the real /run/wirecap-sshbed; none gets as far as creating a namespace.
"""
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from experiments.remote import vhosts

REASON = None
if os.geteuid() != 0:
    REASON = "needs root: plays another user with chown"
elif not os.path.exists(vhosts.SSHD) or not shutil.which("ip"):
    REASON = "needs openssh-server and iproute2 (`make sysdeps`)"
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

PRECIOUS = b"root's own file: must never change\n"
EVIL_PUB = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEvilEvilEvilEvilEvilEvilEvilEvilEvilEvilEv nobody@evil\n"


def nobody() -> int:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


@pytest.fixture
def base(tmp_path, monkeypatch):
    """A private base of our own in a temp folder (the real one is never touched)."""
    b = tmp_path / "sshbed"
    monkeypatch.setattr(vhosts, "STATE_ROOT", b)
    return b


@pytest.fixture
def target(tmp_path) -> Path:
    """The root-owned file the hostile user aims its links at."""
    t = tmp_path / "root-owned.conf"
    t.write_bytes(PRECIOUS)
    os.chmod(t, 0o644)
    return t


def prefix() -> str:
    return f"wch{os.getpid() % 100000}"


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def plant(folder: Path, target: Path) -> None:
    """What `nobody` leaves in a folder it made: links at root's file, its own key, its own python."""
    (folder / "state.tmp").symlink_to(target)
    (folder / "id_ed25519").symlink_to(target)
    (folder / "authorized_keys").write_bytes(EVIL_PUB)
    (folder / "inventory.toml").write_text('[defaults]\npython = "/tmp/evil-python"\n')
    for p in folder.iterdir():
        os.lchown(p, nobody(), nobody())


def assert_untouched(folder: Path, target: Path) -> None:
    assert target.read_bytes() == PRECIOUS and target.stat().st_uid == 0
    assert (folder / "state.tmp").is_symlink() and os.readlink(folder / "state.tmp") == str(target)
    assert (folder / "authorized_keys").read_bytes() == EVIL_PUB
    assert "evil-python" in (folder / "inventory.toml").read_text()
    assert not (folder / "state.json").exists()
    assert prefix() not in namespaces()


def test_state_folder_made_by_another_user_is_refused(base, target):
    os.mkdir(base, 0o700)  # our base is fine; nobody got to <prefix>/ first
    work = base / prefix()
    os.mkdir(work, 0o755)
    os.chown(work, nobody(), nobody())
    plant(work, target)
    with pytest.raises(vhosts.UnsafeStateError) as err:
        vhosts.up(prefix())
    msg = str(err.value)
    assert f"refusing the SSH testbed state folder {work}: owned by uid {nobody()}" in msg
    assert "\n" not in msg and "remove it" in msg
    assert_untouched(work, target)
    assert work.stat().st_uid == nobody()
    # down() reads no pid list from it and deletes nothing; a sweep skips it
    with pytest.raises(vhosts.UnsafeStateError, match="owned by uid"):
        vhosts.down(prefix())
    assert vhosts.sweep_stale() == []
    assert_untouched(work, target)


def test_base_made_by_another_user_is_refused(tmp_path, target, monkeypatch):
    b = tmp_path / "shared-base"
    monkeypatch.setattr(vhosts, "STATE_ROOT", None)
    monkeypatch.setenv("WIRECAP_SSHBED_ROOT", str(b))  # the environment's way to move the base
    os.mkdir(b, 0o700)
    os.chown(b, nobody(), nobody())
    work = b / prefix()
    os.mkdir(work, 0o700)  # even a private-looking folder inside is not trusted
    plant(work, target)
    with pytest.raises(vhosts.UnsafeStateError, match=f"state base {b}: owned by uid {nobody()}"):
        vhosts.up(prefix())
    with pytest.raises(vhosts.UnsafeStateError, match="owned by uid"):
        vhosts.down(prefix())
    assert_untouched(work, target)


@pytest.mark.parametrize("where", ["base", "folder"])
def test_symlinked_state_folders_are_refused(base, target, tmp_path, where):
    elsewhere = tmp_path / "elsewhere"
    os.mkdir(elsewhere, 0o700)
    plant(elsewhere, target)
    if where == "base":
        base.symlink_to(elsewhere)
        link = base
    else:
        os.mkdir(base, 0o700)
        link = base / prefix()
        link.symlink_to(elsewhere)
    with pytest.raises(vhosts.UnsafeStateError, match=f"{link}: it is a symbolic link"):
        vhosts.up(prefix())
    assert_untouched(elsewhere, target)
    assert link.is_symlink()


def test_state_folder_others_can_write_is_refused(base, target):
    os.mkdir(base, 0o700)
    work = base / prefix()
    os.mkdir(work)
    os.chmod(work, 0o777)  # root's, but open to everyone: anyone may have planted files
    plant(work, target)
    with pytest.raises(vhosts.UnsafeStateError, match="mode 0777 lets group/others in"):
        vhosts.up(prefix())
    assert_untouched(work, target)


def test_planted_links_are_never_followed(base, target, tmp_path):
    """Inside a folder that passes the checks (as if the attacker had got in
    earlier), writes still never follow a link: state.json goes through a
    fresh random temp file, keys are created with O_EXCL|O_NOFOLLOW, and the
    inventory replaces a link at its path instead of writing through it."""
    os.mkdir(base, 0o700)
    work = base / prefix()
    os.mkdir(work, 0o700)
    (work / "state.tmp").symlink_to(target)
    (work / ".state.json.tmp").symlink_to(target)
    (work / "authorized_keys").symlink_to(target)
    vhosts._save({"prefix": prefix(), "sshd": {}})
    assert (work / "state.json").is_file() and not (work / "state.json").is_symlink()
    assert (work / "state.json").stat().st_mode & 0o777 == 0o600
    fd = vhosts._work_fd(prefix())
    try:
        with pytest.raises(FileExistsError):
            vhosts._create(fd, "authorized_keys", EVIL_PUB)
    finally:
        os.close(fd)
    inv = tmp_path / "results" / "ssh-testbed.toml"
    inv.parent.mkdir()
    inv.symlink_to(target)
    vhosts.write_inventory(inv, {"prefix": prefix(), "hosts": {}}, work / "id_ed25519", "/usr/bin/python3", "none")
    assert not inv.is_symlink() and "generated by `invoke ssh-testbed-up`" in inv.read_text()
    assert target.read_bytes() == PRECIOUS
    assert os.readlink(work / "state.tmp") == str(target)


def test_a_base_below_a_folder_others_can_write_is_refused(tmp_path, target, monkeypatch):
    """sshd's StrictModes would refuse keys there, and so does up(), naming the folder."""
    open_dir = tmp_path / "open"
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    monkeypatch.setattr(vhosts, "STATE_ROOT", open_dir / "sshbed")
    with pytest.raises(vhosts.UnsafeStateError, match=f"the folder {open_dir} above it is writable by others"):
        vhosts.up(prefix())
    assert not (open_dir / "sshbed" / prefix()).exists() and prefix() not in namespaces()
    assert target.read_bytes() == PRECIOUS


def test_the_private_state_and_strict_sshd_defaults():
    assert vhosts.DEFAULT_STATE_ROOT == Path("/run/wirecap-sshbed")
    assert "StrictModes yes" in vhosts.SSHD_CONFIG and "StrictModes no" not in vhosts.SSHD_CONFIG
    assert "AuthorizedKeysCommandUser root" in vhosts.SSHD_EXTRA_USERS
