find_package(PkgConfig)

PKG_CHECK_MODULES(PC_GR_DEEPQUANT gnuradio-deepquant)

FIND_PATH(
    GR_DEEPQUANT_INCLUDE_DIRS
    NAMES gnuradio/deepquant/api.h
    HINTS $ENV{DEEPQUANT_DIR}/include
        ${PC_DEEPQUANT_INCLUDEDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/include
          /usr/local/include
          /usr/include
)

FIND_LIBRARY(
    GR_DEEPQUANT_LIBRARIES
    NAMES gnuradio-deepquant
    HINTS $ENV{DEEPQUANT_DIR}/lib
        ${PC_DEEPQUANT_LIBDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/lib
          ${CMAKE_INSTALL_PREFIX}/lib64
          /usr/local/lib
          /usr/local/lib64
          /usr/lib
          /usr/lib64
          )

include("${CMAKE_CURRENT_LIST_DIR}/gnuradio-deepquantTarget.cmake")

INCLUDE(FindPackageHandleStandardArgs)
FIND_PACKAGE_HANDLE_STANDARD_ARGS(GR_DEEPQUANT DEFAULT_MSG GR_DEEPQUANT_LIBRARIES GR_DEEPQUANT_INCLUDE_DIRS)
MARK_AS_ADVANCED(GR_DEEPQUANT_LIBRARIES GR_DEEPQUANT_INCLUDE_DIRS)
