"""npu-smi, efsmi and eccl perf simulators against the reference forms (sections 10, 11,
14, 15 of shared/reference/tool-output-formats.md)."""
import re

import pytest

# Verbatim header/separator lines of real 96-column tables (A2: npu-smi 25.3.rc1; A3 layout
# as in the vllm-ascend collect_env captures).
REAL_A2_HEAD = [
    "+------------------------------------------------------------------------------------------------+",
    "| npu-smi 25.3.rc1                 Version: 25.3.rc1                                             |",
    "+---------------------------+---------------+----------------------------------------------------+",
    "| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|",
    "| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |",
    "+===========================+===============+====================================================+",
]
REAL_A3_CHIP_ROW2 = "| 1     1                   | 0000:9F:00.0  | 0           0    / 0          3212 / 65536         |"
REAL_IDLE_PROC = "| No running processes found in NPU 0                                                            |"
REAL_PROC_HEAD = "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |"


def ok(res):
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    return res.stdout


def test_a2_table_header_is_the_real_one(a2):
    lines = ok(a2.run("npu-smi", "info")).splitlines()
    assert lines[:6] == REAL_A2_HEAD
    assert all(len(ln) == 98 for ln in lines)
    assert lines[6] == "| 0     910B3               | OK            | 90.0        36                0    / 0             |"
    assert REAL_PROC_HEAD in lines and REAL_IDLE_PROC in lines


def test_a3_table_two_dies_per_npu(a3):
    lines = ok(a3.run("npu-smi", "info")).splitlines()
    assert lines[4] == "| Chip  Phy-ID              | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |"
    assert REAL_A3_CHIP_ROW2 in lines
    # die 1 shows power '-', a dashed line separates the dies, '=' the NPUs
    assert lines[9].startswith("| 0     Ascend910           | OK            | -   ")
    assert lines[8] == "+" + "-" * 96 + "+"
    assert sum(1 for ln in lines if re.match(r"\| \d +Ascend910 ", ln)) == 16


def test_leftover_process_and_alarm_show_in_table(a2):
    assert a2.run("npu-lab-fault", "process", "3", "4242").returncode == 0
    assert a2.run("npu-lab-fault", "alarm", "5").returncode == 0
    text = ok(a2.run("npu-smi", "info"))
    assert "| 3       0                 | 4242          | python3                  | 3312                    |" in text
    assert "No running processes found in NPU 3" not in text
    assert "| 5     910B3               | Alarm         |" in text
    health = ok(a2.run("npu-smi", "info", "-t", "health", "-i", "5", "-c", "0")).splitlines()
    assert health[0] == "\tHealth Status                  : Alarm"
    assert health[1] == "\tError Code                     : A4025021 8C03A000 8C084E00"


def test_health_ok(a3):
    assert ok(a3.run("npu-smi", "info", "-t", "health", "-i", "7", "-c", "1")) == (
        "\tHealth Status                  : OK\n\tError Code                     : NA\n"
        "\tError Information              : NA\n")


def test_list_a2_and_a3(a2, a3):
    l2 = ok(a2.run("npu-smi", "info", "-l")).splitlines()
    assert l2[:5] == ["\tTotal Count                    : 8", "",
                      "\tNPU ID                         : 0",
                      "\tChip Count                     : 1", ""]
    l3 = ok(a3.run("npu-smi", "info", "-l")).splitlines()
    assert "\tChip Count                     : 2" in l3


def test_mapping_a2_has_mcu_rows(a2):
    lines = ok(a2.run("npu-smi", "info", "-m")).splitlines()
    assert lines[0] == "\t" + "".join("%-30s " % h for h in ("NPU ID", "Chip ID",
                                                             "Chip Logic ID", "Chip Name"))[:-1]
    assert lines[1] == "\t%-30s %-30s %-30s Ascend 910B3" % (0, 0, 0)
    assert lines[2] == "\t%-30s %-30s %-30s %-30s" % (0, 1, "-", "Mcu")
    assert len(lines) == 17


def test_mapping_a3_five_columns(a3):
    lines = ok(a3.run("npu-smi", "info", "-m")).splitlines()
    assert lines[0].split() == ["NPU", "ID", "Chip", "ID", "Chip", "Logic", "ID", "Chip",
                                "Phy-ID", "Chip", "Name"]
    assert lines[2] == "\t%-30s %-30s %-30s %-30s Ascend910" % (0, 1, 1, 1)
    assert lines[3].split() == ["0", "2", "-", "-", "Mcu"]
    assert len(lines) == 25


def test_spod_info_a3_and_a2(a2, a3):
    text = ok(a3.run("npu-smi", "info", "-t", "spod-info", "-i", "0", "-c", "0"))
    assert text == ("\tSDID                           : 4194304\n"
                    "\tSuper Pod Size                 : 384\n"
                    "\tSuper Pod ID                   : 0\n"
                    "\tServer Index                   : 1\n")
    assert ok(a2.run("npu-smi", "info", "-t", "spod-info", "-i", "0", "-c", "0")) == \
        "This device does not support querying spod-info.\n"


def test_invalid_card_id(a2):
    res = a2.run("npu-smi", "info", "-t", "health", "-i", "9", "-c", "0")
    assert res.returncode == 215
    assert res.stdout.splitlines() == ["Invalid card id.", "Error parameter of -i",
                                       "Usage: npu-smi info <watch|proc|-h|-m|-l|-t type> "
                                       "[Options...]"]


def test_incomplete_driver_install_warning(a2):
    path = a2.root / "etc" / "ascend_install.info"
    path.write_text(path.read_text().replace("Driver_Install_Status=complete\n", ""))
    assert ok(a2.run("npu-smi", "info")).splitlines()[-1].startswith(
        "[WARNING]The driver package may not be completely installed")


def test_efsmi_default_view_rows_match_bus_id_regex(gcu):
    text = ok(gcu.run("efsmi"))
    rows = re.findall(r"^\| (\d+)\s+(Enflame S60)\s+\|.*?([0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])",
                      text, re.M)
    assert [r[0] for r in rows] == [str(i) for i in range(8)]
    assert "Enflame System Management Interface" in text
    assert re.search(r"EFSMI\s+1\.4\.0\.505\s+Driver Ver: 1\.4\.4\.501", text)


# The reference's EFSMI 1.4.0.505 default view (section 15.1): every line 78 columns.
REAL_EFSMI_VERSION = "| EFSMI    1.4.0.505       Driver Ver: 1.4.4.501                             |"
REAL_EFSMI_HEAD = "| DEV    NAME                 | FW VER           | BUS-ID      ECC           |"


def test_efsmi_default_view_is_78_columns_and_the_version_line_is_the_real_one(gcu):
    lines = ok(gcu.run("efsmi")).splitlines()
    assert REAL_EFSMI_VERSION in lines and REAL_EFSMI_HEAD in lines
    assert {len(line) for line in lines} == {78}, [ln for ln in lines if len(ln) != 78]


def test_efsmi_ecc_column_is_the_ecc_setting_not_health(gcu):
    assert gcu.run("npu-lab-fault", "gcu-unhealthy", "3").returncode == 0
    gcu.edit(lambda state: state["devices"][5].update(ecc="Disable"))
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(
        r"^\| (\d+)\s+Enflame S60\s+\|.*[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\s+(\S+)\s+\|$",
        ok(gcu.run("efsmi")), re.M)}
    # Device 3 is unhealthy, but its ECC setting is still enabled; device 5 has ECC off.
    assert rows == {i: "Disable" if i == 5 else "Enable" for i in range(8)}


def test_efsmi_query_health(gcu):
    assert gcu.run("npu-lab-fault", "gcu-unhealthy", "3").returncode == 0
    text = ok(gcu.run("efsmi", "-q"))
    blocks = text.split("DEV ID ")[1:]
    assert len(blocks) == 8
    assert "Health                  : False" in blocks[3]
    assert "Health                  : True" in blocks[0]


@pytest.mark.parametrize("tool", ["eccl_alltoall_perf", "eccl_all_to_all_perf"])
def test_eccl_table_nccl_tests_layout(gcu, tool):
    text = ok(gcu.run(tool, "-b", "1k", "-e", "128M", "-f", "2",
                      env={"OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_RANK": "0"}))
    lines = text.splitlines()
    assert lines[0].startswith("# nThread 1 nGpus 1 minBytes 1024 maxBytes 134217728 step: "
                               "2(factor)")
    assert sum(1 for ln in lines if ln.startswith("#  Rank ")) == 8
    rows = [ln for ln in lines if not ln.startswith("#")]
    assert len(rows) == 18  # 1K .. 128M by 2
    first = rows[0].split()
    assert first[:5] == ["1024", "32", "float", "none", "-1"]
    assert lines[-3] == "# Out of bounds values : 0 OK"
    # all-to-all does not validate in place: that #wrong column is N/A, as real runs print.
    assert {r.split()[8] for r in rows} == {"0"} and {r.split()[12] for r in rows} == {"N/A"}
    avg = float(lines[-2].split(":")[1])
    busbw = [float(r.split()[7]) for r in rows] + [float(r.split()[11]) for r in rows]
    assert abs(avg - sum(busbw) / len(busbw)) < 0.01
    # Only MPI rank 0 prints.
    other = gcu.run(tool, env={"OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_RANK": "3"})
    assert other.returncode == 0 and other.stdout == ""


def test_eccl_wrong_values_are_counted_once(gcu):
    assert gcu.run("npu-lab-fault", "eccl-wrong", "3").returncode == 0
    lines = ok(gcu.run("eccl_alltoall_perf", "-g", "8")).splitlines()
    rows = [ln for ln in lines if not ln.startswith("#")]
    assert rows[-1].split()[8] == "3" and rows[-1].split()[12] == "N/A"
    assert lines[-3] == "# Out of bounds values : 3 FAILED"


def test_eccl_slow_and_unhealthy_device(gcu):
    base = ok(gcu.run("eccl_alltoall_perf", "-g", "8"))
    assert gcu.run("npu-lab-fault", "eccl-slow", "2.0").returncode == 0
    slow = ok(gcu.run("eccl_alltoall_perf", "-g", "8"))

    def avg(text):
        return float(text.splitlines()[-2].split(":")[1])
    assert avg(slow) < avg(base) / 5
    assert gcu.run("npu-lab-fault", "gcu-unhealthy", "6").returncode == 0
    res = gcu.run("eccl_alltoall_perf", "-g", "8")
    assert res.returncode == 1 and "device 6 unavailable" in res.stderr


def test_tools_refuse_other_series(a2, gcu):
    assert gcu.run("npu-smi", "info").returncode == 187
    assert a2.run("efsmi").returncode == 1
