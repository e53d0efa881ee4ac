"""Inventory files: roles as in the paper's Figure 2, errors that name the field."""
import pytest

from experiments.remote import deploy, inventory
from experiments.remote.errors import InventoryError, RemoteError

GOOD = """
[defaults]
user = "root"
identity = "~/.ssh/id_ed25519"
project_dir = "/opt/wirecap/project"

[hosts.gen]
role = "generator"
address = "gen.lab"
interface = "eth1"
test_address = "198.18.0.1/24"

[hosts.cap]
role = "capture"
address = "cap.lab"
port = 2222
interface = "eth1"
test_address = "198.18.0.2/24"
env = { WIRECAP_LIBXDP = "/opt/libs/libxdp.so.1" }

[hosts.rx]
role = "receiver"
address = "rx.lab"
"""


def write(tmp_path, text, name="inv.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_toml_inventory(tmp_path):
    inv = inventory.load(write(tmp_path, GOOD))
    assert [h.name for h in inv.hosts] == ["gen", "cap", "rx"]
    assert inv.generator.name == "gen" and inv.capture.port == 2222 and inv.receiver.address == "rx.lab"
    assert inv.capture.test_ip == "198.18.0.2" and inv.capture.env == {"WIRECAP_LIBXDP": "/opt/libs/libxdp.so.1"}
    assert inv.generator.identity.endswith("/.ssh/id_ed25519") and "~" not in inv.generator.identity
    assert inv.capture.project_dir == "/opt/wirecap/project" and inv.capture.install == "make"


def test_yaml_inventory(tmp_path):
    text = """
defaults: {user: root}
hosts:
  g: {role: generator, address: 10.0.0.1, interface: eth1, test_address: 198.19.0.1/24}
  c: {role: capture, address: 10.0.0.2, interface: eth1, test_address: 198.19.0.2/24}
"""
    inv = inventory.load(write(tmp_path, text, "inv.yaml"))
    assert inv.generator.address == "10.0.0.1" and inv.receiver is None


@pytest.mark.parametrize("edit,message", [
    (('role = "capture"', 'role = "generator"'), "exactly one generator host expected, found 2"),
    (('role = "receiver"', 'role = "router"'), "hosts.rx.role 'router'"),
    (('test_address = "198.18.0.2/24"', 'test_address = "10.0.0.2/24"'), "must stay inside 198.18.0.0/15"),
    (('test_address = "198.18.0.2/24"', 'test_address = "198.18.0.2"'), None),  # /32 is fine
    (('port = 2222', 'prot = 2222'), "hosts.cap: unknown key(s) ['prot']"),
    (('port = 2222', 'port = 2222\nhost_key_policy = "trust-all"'), "hosts.cap.host_key_policy 'trust-all'"),
    (('address = "gen.lab"', ''), "hosts.gen: missing address"),
    (('project_dir = "/opt/wirecap/project"', 'project_dir = "/usr"'), "defaults.project_dir"),
    (('interface = "eth1"\ntest_address = "198.18.0.1/24"', ''), "hosts.gen: a generator host needs interface"),
])
def test_inventory_errors_name_the_field(tmp_path, edit, message):
    text = GOOD.replace(*edit, 1)
    if message is None:
        inventory.load(write(tmp_path, text))
        return
    with pytest.raises(InventoryError) as err:
        inventory.load(write(tmp_path, text))
    assert message.replace("defaults.project_dir", "project_dir") in str(err.value)
    assert str(tmp_path / "inv.toml") in str(err.value)


def test_host_keys_are_verified_unless_the_inventory_accepts_new_ones(tmp_path):
    inv = inventory.load(write(tmp_path, GOOD))
    assert all(h.host_key_policy == "strict" and h.known_hosts is None for h in inv.hosts)
    text = GOOD.replace('[defaults]\n', '[defaults]\nknown_hosts = "~/lab_known_hosts"\n', 1)
    text = text.replace('port = 2222', 'port = 2222\nhost_key_policy = "accept-new"', 1)
    inv = inventory.load(write(tmp_path, text))
    assert inv.capture.host_key_policy == "accept-new" and inv.generator.host_key_policy == "strict"
    assert inv.generator.known_hosts.endswith("/lab_known_hosts") and "~" not in inv.generator.known_hosts


def test_unknown_host_keys_are_rejected_by_default():
    """No SSH server needed: the policy a session installs is paramiko's RejectPolicy."""
    import paramiko

    from experiments.remote import hosts

    assert issubclass(hosts.RejectUnknown, paramiko.RejectPolicy)
    pk = paramiko.RSAKey.generate(1024)
    with pytest.raises(hosts.UnknownHostKey, match="unknown host key"):
        hosts.RejectUnknown().missing_host_key(None, "cap.lab", pk)
    accept = hosts.AcceptNew()
    accept.missing_host_key(None, "cap.lab", pk)
    assert accept.accepted.startswith("cap.lab ssh-rsa SHA256:")


def test_unreadable_inventories(tmp_path):
    with pytest.raises(InventoryError, match="no such file"):
        inventory.load(tmp_path / "missing.toml")
    with pytest.raises(InventoryError, match="not valid TOML"):
        inventory.load(write(tmp_path, "[hosts.gen\nrole="))
    with pytest.raises(InventoryError, match="no hosts"):
        inventory.load(write(tmp_path, "[defaults]\nuser = 'root'\n"))


def test_remote_error_names_host_reason_and_step():
    e = RemoteError("cap", "not root (uid 1000)", "check")
    assert str(e) == "host 'cap' during check: not root (uid 1000)"
    assert (e.host, e.reason, e.step) == ("cap", "not root (uid 1000)", "check")


def test_bundle_is_the_working_tree_without_results(tmp_path):
    import tarfile

    b = deploy.bundle(out_dir=tmp_path)
    with tarfile.open(b.path) as tar:
        names = tar.getnames()
    assert "tasks.py" in names and "experiments/remote/agent.py" in names
    assert not any(n.startswith(("results/", ".git/", ".venv/")) for n in names)
    assert ".wirecap-commit" in names and ".wirecap-version.new" in names
    assert deploy.bundle(out_dir=tmp_path).version == b.version  # same tree, same version
