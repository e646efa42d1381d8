# shellcheck shell=bash disable=SC2154
# Sourced by the integration scripts: a private Ansible home and config under "$work", so nothing
# from ~/.ansible or an ansible.cfg nearby leaks in. Needs $work and $COLLECTIONS_ROOT.
export ANSIBLE_CONFIG="$work/ansible.cfg"
: >"$ANSIBLE_CONFIG"
export ANSIBLE_HOME="$work/ansible-home"
export ANSIBLE_LOCAL_TEMP="$work/ansible-local-tmp"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_NOCOLOR=1
export ANSIBLE_RETRY_FILES_ENABLED=false
