#!/bin/sh
set -e
mkdir -p /run/sshd && chmod 0755 /run/sshd
