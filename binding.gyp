{
  "targets": [
    {
      "target_name": "replaykit",
      "sources": [
        "native/binding/addon.cpp",
        "native/binding/errors.cpp",
        "native/binding/convert.cpp",
        "native/binding/buffer_object.cpp",
        "native/binding/buffer_calls.cpp",
        "native/binding/writer_object.cpp",
        "native/binding/shared.cpp",
        "native/binding/prefetcher.cpp",
        "native/binding/archive_object.cpp",
        "native/binding/rate_limiter_js.cpp",
        "native/binding/rate_wait.cpp",
        "native/core/schema.cpp",
        "native/core/storage.cpp",
        "native/core/sum_tree.cpp",
        "native/core/sampler.cpp",
        "native/core/writer.cpp",
        "native/core/buffer.cpp",
        "native/core/buffer_threads.cpp",
        "native/core/buffer_sequences.cpp",
        "native/core/her.cpp",
        "native/core/sequences.cpp",
        "native/core/episodes.cpp",
        "native/core/nstep.cpp",
        "native/core/derived.cpp",
        "native/core/file.cpp",
        "native/core/fault_guard.cpp",
        "native/core/archive.cpp",
        "native/core/crc32.cpp",
        "native/core/memory.cpp",
        "native/core/rate_limiter.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/core"],
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fvisibility=hidden"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=off"]
      },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } }
    }
  ]
}
