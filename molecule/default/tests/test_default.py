"""After preflight: the node is untouched (preflight is read-only) and saw its 16 devices."""


def test_sixteen_davinci_devices(host):
    out = host.check_output("ls /dev | grep -c '^davinci[0-9]'")
    assert out.strip() == "16"
    for name in ("davinci_manager", "devmm_svm", "hisi_hdc", "davinci15"):
        assert host.run("test -c /dev/%s" % name).rc == 0, name


def test_preflight_left_no_files_behind(host):
    # Ansible's own temp dirs are cleaned; preflight writes nothing else.
    assert host.run("ls -A /root/.ansible/tmp 2>/dev/null").stdout.strip() == ""
    assert host.file("/etc/hccn.conf").exists  # written by prepare, not by preflight


def test_hccn_tool_answers(host):
    cmd = host.run("/usr/local/Ascend/driver/tools/hccn_tool -i 15 -link -g")
    assert cmd.rc == 0 and cmd.stdout == "link status: UP\n"


def test_state_untouched_by_preflight(host):
    assert host.run("md5sum -c /root/prepare.md5").rc == 0
