"""After verify: the node is unchanged (verify is read-only) and its tools still healthy."""


def test_state_and_hccn_conf_untouched(host):
    # prepare recorded their checksums; check, converge and idempotence must not change them
    assert host.run("md5sum -c /root/prepare.md5").rc == 0


def test_no_container_started_and_no_process_left(host):
    assert host.run("docker ps -q 2>/dev/null").stdout.strip() == ""
    # no simulated tool call (client process named like the tool) left running
    assert host.run("pgrep -x hccn_tool").rc != 0


def test_every_device_link_up(host):
    for dev in (0, 7, 15):
        assert host.run("hccn_tool -i %d -link -g" % dev).stdout == "link status: UP\n"
