#!/usr/bin/env python3
"""Interactive console check of issue #9 on a real pseudo-terminal (what a person at a terminal gets).

Boots out/vmlinuz + out/initrd.gz under `softkvm run` with its stdin and stdout on a pty, then:
  1. waits for the marker and the busybox prompt;
  2. starts `sleep 600` and sends Ctrl-C: the guest's sleep is interrupted and the shell prompts again
     (the keystroke went to the guest, SoftKvm kept running);
  3. runs `echo alive-$((6*7))` and expects alive-42 (stdin still works after the Ctrl-C);
  4. sends Ctrl-A x: SoftKvm ends the run with exit code 0 and restores the terminal.
Usage: interactive-check.py SOFTKVM_DLL [OUT_DIR]; prints one line per step, exit 0 when all pass.
"""
import os, pty, select, subprocess, sys, time

dll = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
master, slave = pty.openpty()
proc = subprocess.Popen(
    ["dotnet", dll, "run", "--kernel", os.path.join(out, "vmlinuz"), "--initrd", os.path.join(out, "initrd.gz"),
     "--append", "console=ttyAMA0 quiet"],
    stdin=slave, stdout=slave, stderr=slave, close_fds=True, start_new_session=True)
os.close(slave)
seen = b""

def expect(token, timeout):
    global seen
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            seen += data
            i = seen.find(token)
            if i >= 0:
                seen = seen[i + len(token):]
                return True
        elif proc.poll() is not None:
            break
    return False

def step(name, ok):
    print(("PASS " if ok else "FAIL ") + name, flush=True)
    if not ok:
        proc.kill()
        print("last output: " + seen[-300:].decode(errors="replace"))
        sys.exit(1)

step("boot to the marker", expect(b"SOFTKVM-LINUX-BOOT-OK", 300))
step("busybox prompt", expect(b"/ # ", 60))
os.write(master, b"sleep 600\r")
expect(b"sleep 600", 10)
time.sleep(2)
os.write(master, b"\x03")
step("Ctrl-C interrupts the guest's sleep, not SoftKvm", expect(b"/ # ", 30) and proc.poll() is None)
os.write(master, b"echo alive-$((6*7))\r")
step("stdin still works", expect(b"alive-42", 30))
os.write(master, b"\x01x")
try:
    code = proc.wait(30)
except subprocess.TimeoutExpired:
    code = None
step(f"Ctrl-A x ends the run with exit code 0 (got {code})", code == 0)
