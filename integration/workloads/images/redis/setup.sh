#!/bin/sh
set -e
mkdir -p /data && chown redis:redis /data
