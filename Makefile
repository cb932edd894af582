# SPDX-License-Identifier: Apache-2.0
# virtual-media: the BMC's Virtual Media D-Bus service.
#
#   make            build build/vmedia-{supervisor,worker,gadget-helper}
#   make check      install what is missing, unit tests (plain and ASan/UBSan),
#                   libFuzzer on the parsers (test/fuzz/fuzz.mk), test/vm/run's
#                   choice of accelerator, then the integration tests inside
#                   the virtual BMC, then the Debian package in the systemd
#                   virtual BMC, then the armhf unit tests under qemu-arm and
#                   one Proxy Mount in the armhf virtual BMC (each part's
#                   time: test/README.md)
#   make soak       5000 Mount/Unmount cycles in the virtual BMC (SOAK_CYCLES=N)
#   make check-asan-vm  the fault and cycle tests with the ASan/UBSan service
#   make demo       install what is missing, build, run the demo on the virtual BMC
#   make bench      install what is missing, build, run the benchmark on the virtual BMC
#   make install DESTDIR=...
#   make deps       install the Debian packages of packages.txt that are missing
#   make ARCH=armhf         cross-build into build/armhf/ (see "Cross-building")
#   make deps ARCH=armhf SYSROOT=/   enable the armhf architecture, install
#                           packages-armhf.txt (for dpkg-buildpackage -a armhf)
#   make check-armhf        the unit tests built for armhf, run under qemu-arm,
#                           then all the armhf virtual BMC's tests

PREFIX      ?= /usr
SBINDIR     ?= $(PREFIX)/sbin
LIBEXECDIR  ?= $(PREFIX)/libexec/virtual-media
SYSCONFDIR  ?= /etc
DATADIR     ?= $(PREFIX)/share
DBUSIFDIR   ?= $(DATADIR)/dbus-1/interfaces
MANDIR      ?= $(DATADIR)/man
DBUSPOLICYDIR  ?= $(DATADIR)/dbus-1/system.d
DBUSSERVICEDIR ?= $(DATADIR)/dbus-1/system-services
# systemd's and udev's directories (merged /usr: /lib/... is the same place;
# debian/rules picks the one bookworm's debhelper looks in)
UNITDIR     ?= $(PREFIX)/lib/systemd/system
GENERATORDIR ?= $(PREFIX)/lib/systemd/system-generators
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
MODULESLOADDIR ?= $(PREFIX)/lib/modules-load.d
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d

CC          ?= cc
B           := build
PKG_CONFIG  ?= pkg-config

# --- Cross-building (ARCH=<Debian architecture>, e.g. armhf) ------------------
# The GNU triplet's compiler and archiver (Debian's cross toolchain); the
# objects go to build/<arch>/.  The target's headers and libraries come from
# SYSROOT: by default the armhf virtual BMC's root (build/vm-armhf/root, Debian's
# armhf packages unpacked by test/vm/build, which this Makefile runs when the
# root is missing), so the host needs no foreign architecture; SYSROOT=/ takes
# Debian's multiarch -dev packages instead (make deps ARCH=armhf SYSROOT=/).  A CC, AR
# or PKG_CONFIG given on the command line or in the environment wins (dh does
# that for dpkg-buildpackage -a).
ifneq ($(ARCH),)
TRIPLET     := $(shell dpkg-architecture -a$(ARCH) -qDEB_HOST_GNU_TYPE 2>/dev/null)
ifeq ($(TRIPLET),)
$(error ARCH=$(ARCH): not a Debian architecture (dpkg-architecture -L lists them))
endif
B           := build/$(ARCH)
SYSROOT     ?= build/vm-$(ARCH)/root
SYSROOT_ABS := $(abspath $(SYSROOT))
ifneq ($(SYSROOT_ABS),/)
SYSROOT_CC  := --sysroot=$(SYSROOT_ABS)
SYSROOT_PC  := PKG_CONFIG_SYSROOT_DIR=$(SYSROOT_ABS) \
               PKG_CONFIG_LIBDIR=$(SYSROOT_ABS)/usr/lib/$(TRIPLET)/pkgconfig:$(SYSROOT_ABS)/usr/share/pkgconfig
# a library's .pc file stands for the whole root (test/vm/build makes it)
SYSROOT_DEP := $(SYSROOT_ABS)/usr/lib/$(TRIPLET)/pkgconfig/glib-2.0.pc
endif
ifeq ($(origin CC),default)
CC          := $(TRIPLET)-gcc $(SYSROOT_CC)
endif
ifeq ($(origin AR),default)
AR          := $(TRIPLET)-ar
endif
ifeq ($(origin PKG_CONFIG),file)
PKG_CONFIG  := $(if $(SYSROOT_PC),env $(SYSROOT_PC) pkg-config,$(TRIPLET)-pkg-config)
endif
# The unit tests run under QEMU's user-mode emulator (qemu-arm for armhf),
# explicitly: binfmt_misc is often missing in containers.  The target's
# libraries and ELF interpreter are in SYSROOT.
QEMU_USER   ?= qemu-$(shell dpkg-architecture -a$(ARCH) -qDEB_HOST_GNU_CPU 2>/dev/null) -L $(SYSROOT_ABS)
export RUN_UNIT_WRAPPER := $(QEMU_USER)
endif

PKGS        := gio-2.0 gio-unix-2.0 libudev jansson
PKG_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS     = $(shell $(PKG_CONFIG) --libs $(PKGS))

WARN        := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
               -Wstrict-prototypes -Wno-unused-parameter
DEFS        := -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DSYSCONFDIR='"$(SYSCONFDIR)"' -DLIBEXECDIR='"$(LIBEXECDIR)"' \
               -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74
CFLAGS      ?= -O2 -g
ALL_CFLAGS   = -std=gnu11 $(WARN) $(DEFS) -I. -I$(B)/gen $(CFLAGS) -fstack-protector-strong \
               -D_FORTIFY_SOURCE=2 -fPIE -MMD -MP
LDFLAGS_ALL  = -pie -Wl,-z,relro,-z,now,--as-needed $(LDFLAGS)

DBUS_XML    := supervisor/xyz.openbmc_project.VirtualMedia.xml

COMMON_SRC  := common/msg.c common/config.c
COMMON_GLIB_SRC := common/channel.c common/paths.c common/image_url.c
SUPERVISOR_SRC := $(filter-out supervisor/main.c,$(wildcard supervisor/*.c))
WORKER_SRC  := $(filter-out worker/main.c,$(wildcard worker/*.c))
HELPER_SRC  := $(filter-out gadget-helper/main.c,$(wildcard gadget-helper/*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

PROGRAMS    := $(B)/vmedia-supervisor $(B)/vmedia-worker $(B)/vmedia-gadget-helper

all: $(PROGRAMS)

# The default sysroot: the armhf virtual BMC's root, built when missing.
ifeq ($(SYSROOT),build/vm-$(ARCH)/root)
$(SYSROOT_DEP):
	test/vm/build --arch $(ARCH)
endif

# --- generated D-Bus skeletons (the XML is the API) ---------------------------
$(B)/gen/vm-dbus.c $(B)/gen/vm-dbus.h: $(DBUS_XML)
	@mkdir -p $(B)/gen
	gdbus-codegen --interface-prefix xyz.openbmc_project.VirtualMedia. \
	  --c-namespace VmDbus --c-generate-object-manager --c-generate-autocleanup all \
	  --generate-c-code $(B)/gen/vm-dbus $<

$(B)/obj/gen/vm-dbus.o: $(B)/gen/vm-dbus.c | $(SYSROOT_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(PKG_CFLAGS) -c $< -o $@

$(B)/obj/%.o: %.c | $(SYSROOT_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

# The gadget-helper runs as root: it links neither GLib nor libudev.
$(B)/obj/gadget-helper/%.o: gadget-helper/%.c | $(SYSROOT_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(call obj,$(SUPERVISOR_SRC) supervisor/main.c): $(B)/gen/vm-dbus.h

$(B)/libvmcommon.a: $(call obj,$(COMMON_SRC))
	$(AR) rcs $@ $^
$(B)/libvmcommonglib.a: $(call obj,$(COMMON_GLIB_SRC))
	$(AR) rcs $@ $^
$(B)/libvmsupervisor.a: $(call obj,$(SUPERVISOR_SRC)) $(B)/obj/gen/vm-dbus.o
	$(AR) rcs $@ $^
$(B)/libvmworker.a: $(call obj,$(WORKER_SRC))
	$(AR) rcs $@ $^
$(B)/libvmhelper.a: $(call obj,$(HELPER_SRC))
	$(AR) rcs $@ $^

$(B)/vmedia-supervisor: $(B)/obj/supervisor/main.o $(B)/libvmsupervisor.a $(B)/libvmcommonglib.a $(B)/libvmcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)
$(B)/vmedia-worker: $(B)/obj/worker/main.o $(B)/libvmworker.a $(B)/libvmcommonglib.a $(B)/libvmcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)
$(B)/vmedia-gadget-helper: $(B)/obj/gadget-helper/main.o $(B)/libvmhelper.a $(B)/libvmcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(shell $(PKG_CONFIG) --libs jansson)

# --- tests ---------------------------------------------------------------------
UNIT_TESTS  := $(patsubst test/unit/%.c,%,$(wildcard test/unit/test-*.c))
UNIT_LIBS   := $(B)/libvmsupervisor.a $(B)/libvmworker.a $(B)/libvmhelper.a $(B)/libvmcommonglib.a $(B)/libvmcommon.a

$(B)/test/%: test/unit/%.c $(UNIT_LIBS) | $(SYSROOT_DEP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS_ALL) -o $@ $(filter %.c %.a,$^) $(PKG_LIBS)

# The same unit tests, every object rebuilt with AddressSanitizer and UBSan.
SAN_FLAGS   := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

check-unit: $(addprefix $(B)/test/,$(UNIT_TESTS))
	test/run-unit $(addprefix $(B)/test/,$(UNIT_TESTS))

# armhf (issue 14): the unit tests cross-built and run under qemu-arm on the
# host (check-armhf-unit), then the armhf virtual BMC (test/vm/run --arch
# armhf) with the armhf build of the service: the same unit tests natively on
# its ARM kernel, one Proxy Mount end to end and one Legacy https:// mount
# (check-vm-armhf).  make check runs check-armhf-unit and the Proxy case
# (check-vm-armhf-proxy): test/README.md has the times.
ARMHF_UNIT  := $(addprefix build/armhf/test/,$(UNIT_TESTS))
ARMHF_PROXY := test/integration/test_proxy.py::test_proxy_mount_iso_as_cdrom_and_unmount
ARMHF_VM_TESTS := $(ARMHF_PROXY) test/integration/test_legacy.py::test_https_three_signatures
check-armhf: check-armhf-unit check-vm-armhf

check-armhf-unit:
	$(MAKE) --no-print-directory ARCH=armhf all check-unit

# ARMHF_VM_UNIT: the unit tests to run in the VM ("" for none).
ARMHF_VM_UNIT ?= $(ARMHF_UNIT)
check-vm-armhf:
	$(MAKE) --no-print-directory ARCH=armhf all $(ARMHF_VM_UNIT)
	test/vm/run --arch armhf --timeout 2400 -e VMEDIA_BUILD=$(CURDIR)/build/armhf -- \
	  /bin/sh -c 'test -z "$$*" || test/run-unit "$$@" || exit; exec /usr/bin/python3 -m pytest \
	  -p no:cacheprovider -v --tb=short -rfE --durations=5 --timeout=900 --timeout-method=signal \
	  $(ARMHF_VM_TESTS)' run $(ARMHF_VM_UNIT)

check-vm-armhf-proxy:
	$(MAKE) --no-print-directory check-vm-armhf ARMHF_VM_UNIT= ARMHF_VM_TESTS=$(ARMHF_PROXY)

check-asan:
	$(MAKE) --no-print-directory B=$(B)/asan CFLAGS='$(SAN_FLAGS)' LDFLAGS='-fsanitize=address,undefined' \
	  $(addprefix $(B)/asan/test/,$(UNIT_TESTS)) $(addprefix $(B)/asan/,vmedia-supervisor vmedia-worker vmedia-gadget-helper)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  test/run-unit $(addprefix $(B)/asan/test/,$(UNIT_TESTS))

# Test programs run inside the virtual BMC.
$(B)/test/sandbox-probe: test/integration/sandbox-probe.c $(B)/libvmworker.a $(B)/libvmcommonglib.a $(B)/libvmcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS_ALL) -o $@ $(filter %.c %.a,$^) $(PKG_LIBS)

check-vm: all $(B)/test/sandbox-probe
	test/integration/run

# The Debian package, built out of tree and installed in the systemd virtual BMC.
check-system:
	test/system/run

# test/vm/run's choice of accelerator, with a fake QEMU (on the host).
check-vmrun:
	test/vmrun/run

# Issue 7's cycle test, longer: SOAK_CYCLES Mount/Unmount cycles (test/README.md);
# make check runs 100.  The limit: 1.2 s a cycle (twice the loaded figure) and
# 30 min for the boot and the servers.
SOAK_CYCLES ?= 5000
SOAK_TIMEOUT ?= $(shell echo $$(( $(SOAK_CYCLES) * 12 / 10 + 1800 )))
soak: all
	test/vm/run --timeout $(SOAK_TIMEOUT) -e VMEDIA_CYCLES=$(SOAK_CYCLES) -- /usr/bin/python3 -m pytest \
	  -p no:cacheprovider -v -s --tb=short -rfE test/integration/test_cycles.py

# The fault injections and the cycles with the ASan/UBSan build of the service;
# the tests fail on any sanitizer report in the service's log.
check-asan-vm: check-asan
	test/vm/run --timeout 3600 -e VMEDIA_BUILD=$(CURDIR)/$(B)/asan -e VMEDIA_CYCLES=100 \
	  -e ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 -e UBSAN_OPTIONS=print_stacktrace=1 \
	  -- /usr/bin/python3 -m pytest -p no:cacheprovider -v --tb=short -rfE \
	  test/integration/test_faults.py test/integration/test_cycles.py -k "kill or cycles"

check: deps
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory check-unit
	$(MAKE) --no-print-directory check-asan
	$(MAKE) --no-print-directory check-fuzz
	$(MAKE) --no-print-directory check-vmrun
	$(MAKE) --no-print-directory check-vm
	$(MAKE) --no-print-directory check-system
	$(MAKE) --no-print-directory check-armhf-unit
	$(MAKE) --no-print-directory check-vm-armhf-proxy

demo: deps
	$(MAKE) --no-print-directory all
	test/vm/run --timeout 900 -- test/demo/demo.sh

# With SYSROOT=/ the target's libraries are Debian's multiarch packages: the
# architecture is enabled and packages-ARCH.txt installed.
deps:
	@test/install-deps packages.txt
ifeq ($(SYSROOT_ABS),/)
	@dpkg --print-foreign-architectures | grep -qx '$(ARCH)' || \
	  { echo "deps: dpkg --add-architecture $(ARCH)"; dpkg --add-architecture '$(ARCH)' && apt-get update -qq; }
	@test/install-deps packages-$(ARCH).txt
endif

include test/fuzz/fuzz.mk

# --- install -------------------------------------------------------------------
# The gadget-helper is installed 0755 here: it must end up setuid root with
# group vmedia-worker (4750), but that group exists only once the package's
# postinst has created the users (see debian/virtual-media.postinst).
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SYSCONFDIR)/virtual-media \
	  $(DESTDIR)$(DBUSIFDIR) $(DESTDIR)$(DBUSPOLICYDIR) $(DESTDIR)$(DBUSSERVICEDIR) \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(GENERATORDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MODULESLOADDIR) $(DESTDIR)$(UDEVRULESDIR) \
	  $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/vmedia-supervisor $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(B)/vmedia-worker $(B)/vmedia-gadget-helper $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 conf/config.json $(DESTDIR)$(SYSCONFDIR)/virtual-media/config.json
	install -m 0644 $(DBUS_XML) $(DESTDIR)$(DBUSIFDIR)/
	install -m 0644 units/xyz.openbmc_project.VirtualMedia.conf $(DESTDIR)$(DBUSPOLICYDIR)/
	install -m 0644 units/xyz.openbmc_project.VirtualMedia.service $(DESTDIR)$(DBUSSERVICEDIR)/
	install -m 0644 units/virtual-media.service units/vmedia-worker@.service \
	  units/vmedia-worker@.socket $(DESTDIR)$(UNITDIR)/
	install -m 0755 units/virtual-media-generator $(DESTDIR)$(GENERATORDIR)/
	install -m 0644 units/virtual-media.sysusers $(DESTDIR)$(SYSUSERSDIR)/virtual-media.conf
	install -m 0644 units/virtual-media.tmpfiles $(DESTDIR)$(TMPFILESDIR)/virtual-media.conf
	install -m 0644 units/virtual-media.modules-load $(DESTDIR)$(MODULESLOADDIR)/virtual-media.conf
	install -m 0644 units/60-virtual-media.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -m 0644 doc/vmedia-supervisor.8 $(DESTDIR)$(MANDIR)/man8/

clean:
	rm -rf $(B)/obj $(B)/gen $(B)/test $(B)/asan $(B)/*.a $(PROGRAMS)

.PHONY: all check check-unit check-armhf check-armhf-unit check-vm-armhf check-vm-armhf-proxy check-asan check-vmrun check-vm check-asan-vm check-system soak demo deps install \
	clean

include test/bench/bench.mk
.SECONDARY:

# The compilers' dependency files (not the package build in $(B)/deb, whose
# tree has directories such as system.d, nor the VM's module tree).
-include $(shell find $(B) \( -path $(B)/deb -o -path '$(B)/deb-*' -o -path $(B)/vm -o -path '$(B)/vm-*' \) -prune -o -name '*.d' -type f -print 2>/dev/null)
