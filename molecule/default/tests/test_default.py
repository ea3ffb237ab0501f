"""After preflight (check, converge, idempotence): preflight is read-only, so what it did on the
node is nothing at all -- the simulated hardware state and hccn.conf byte for byte as before it
ran, no file and no process left behind.  (What preflight refuses is the scenario's side effect:
a node with a device node missing.)"""


def test_hardware_state_and_hccn_conf_unchanged(host):
    # prepare recorded their checksums; check, converge and idempotence must not change them
    assert host.run("md5sum -c /root/prepare.md5").rc == 0


def test_device_nodes_unchanged(host):
    # the same device nodes (major/minor, mode) as prepare listed before preflight ran
    now = host.check_output("ls -l /dev | grep -E ' (davinci|devmm_svm|hisi_hdc)'")
    assert now.strip() == host.file("/root/prepare.dev").content_string.strip()


def test_preflight_left_no_files_or_processes_behind(host):
    # Ansible's own temp dirs are cleaned; preflight writes nothing else and starts nothing
    assert host.run("ls -A /root/.ansible/tmp 2>/dev/null").stdout.strip() == ""
    assert host.run("pgrep -f '[A]nsiballZ_'").rc != 0
