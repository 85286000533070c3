# The demo container's script (run by /bin/sh inside the container, see `make run`).
# Each section shows one kind of isolation.
echo "== hostname (UTS namespace)"
hostname
echo "== identity"
id
echo "== my pid (PID namespace: the container's init is 1)"
echo "$$"
echo "== processes"
ps
echo "== network interfaces (network namespace)"
ip -o link | cut -d' ' -f2,3
echo "== mounts (mount namespace, first 20)"
head -n 20 /proc/mounts
echo "== root directory"
ls /
