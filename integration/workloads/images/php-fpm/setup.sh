#!/bin/sh
set -e
# The package's pid file directory (made by its init script or tmpfiles.d on a host).
mkdir -p /run/php
mkdir -p /var/www/html
