# Compiler settings shared by every ssmx target.
function(ssmx_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
endfunction()

if(SSMX_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# ssmx_add_library(NAME SOURCES...): a shared library ssmx_<NAME> exported as
# ssmx::<NAME>, with public headers in <dir>/include.
function(ssmx_add_library name)
  add_library(ssmx_${name} SHARED ${ARGN})
  add_library(ssmx::${name} ALIAS ssmx_${name})
  set_target_properties(ssmx_${name} PROPERTIES
    EXPORT_NAME ${name}
    OUTPUT_NAME ssmx_${name}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  target_include_directories(ssmx_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(ssmx_${name} PUBLIC cxx_std_17)
  ssmx_set_warnings(ssmx_${name})
  install(TARGETS ssmx_${name} EXPORT ssmxTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# ssmx_add_interface_library(NAME DEPS...): a target with no code yet. It
# carries its dependencies so consumers can link it today, and gains sources
# when its stage lands.
function(ssmx_add_interface_library name)
  add_library(ssmx_${name} INTERFACE)
  add_library(ssmx::${name} ALIAS ssmx_${name})
  set_target_properties(ssmx_${name} PROPERTIES EXPORT_NAME ${name})
  target_link_libraries(ssmx_${name} INTERFACE ${ARGN})
  install(TARGETS ssmx_${name} EXPORT ssmxTargets)
endfunction()

# ssmx_add_gtest(NAME SOURCES... LIBS ...): one GoogleTest program, its tests
# registered individually with CTest.
function(ssmx_add_gtest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  ssmx_set_warnings(${name})
  target_compile_definitions(${name} PRIVATE
    SSMX_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SSMX_CLI_PATH="$<TARGET_FILE:ssmx_cli>")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "SSMX_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
