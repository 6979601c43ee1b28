# Debian packages with CPack, one per install component:
#   libnetqueue1     runtime  libnetqueue.so.1*
#   libnetqueue-dev  dev      headers, libnetqueue.so, libnetqueue.a, netqueue.pc, CMake package
#   netqueue-tools   tools    nq, nq-conformance (and the suite it runs), nq.1
# Build them with `ninja -C build package-deb` (or `cd build && cpack -G DEB`):
# build/libnetqueue1_<version>_<arch>.deb and so on. The version follows
# abi/netqueue/version.h through PROJECT_VERSION.

set(NQ_DEB_MAINTAINER "netqueue dev <dev@netqueue.invalid>" CACHE STRING
  "Maintainer field of the Debian packages")

set(CPACK_PACKAGE_NAME netqueue)
set(CPACK_PACKAGE_VENDOR netqueue)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${NQ_DEB_MAINTAINER}")
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL runtime dev tools)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # <package>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${NQ_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

# Library dependencies come from dpkg-shlibdeps (install dpkg-dev and file;
# scripts/setup.sh does). libnetqueue.so.1 itself is in none of the system's
# packages yet: it is looked up in the build tree, and the dependency on
# libnetqueue1 is written explicitly below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/src)
# libnetqueue1 carries a shlibs file, so packages built against it get
# "libnetqueue1 (>= <version>)" from their own dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(_nq_deb_this "libnetqueue1 (= ${PROJECT_VERSION})")
set(_nq_transports "TCP, TLS")
# What a static link (pkg-config --static) and the headers need.
set(_nq_dev_depends "${_nq_deb_this}, libev-dev, libssl-dev, pkg-config")
if(NQ_WITH_MQTT)
  string(APPEND _nq_transports ", MQTT")
  string(APPEND _nq_dev_depends ", libpaho-mqtt-dev")
endif()
if(NQ_WITH_GRPC)
  string(APPEND _nq_transports ", gRPC")
  string(APPEND _nq_dev_depends ", libgrpc-dev")
endif()
# Extended descriptions: CPack indents every line by one space.
set(_nq_about "netqueue speaks the net-queue protocol of the Python package net-queue:
length-prefixed frames, an id handshake and put/get message queues
between a server and its clients, over ${_nq_transports} and in-process.")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libnetqueue1)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "net-queue messaging library (shared library)
${_nq_about}
.
This package holds the shared library libnetqueue.so.1.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libnetqueue-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_nq_dev_depends}")
set(CPACK_COMPONENT_DEV_DESCRIPTION "net-queue messaging library (development files)
${_nq_about}
.
This package holds the headers, the static library, the pkg-config file
(netqueue.pc) and the CMake package (find_package(netqueue)).")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME netqueue-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${_nq_deb_this}, python3")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "net-queue command-line peer and conformance suite
${_nq_about}
.
This package holds nq, a command-line server and client, and
nq-conformance, a protocol conformance suite (Python 3).")

include(CPack)

add_custom_target(package-deb
  COMMAND ${CMAKE_CPACK_COMMAND} -G DEB --config ${CMAKE_BINARY_DIR}/CPackConfig.cmake
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  COMMENT "Debian packages (libnetqueue1, libnetqueue-dev, netqueue-tools) into ${CMAKE_BINARY_DIR}"
  USES_TERMINAL)
add_dependencies(package-deb netqueue netqueue_static)
if(TARGET nq)
  add_dependencies(package-deb nq)
endif()
