// SHA-256 against the FIPS 180-4 example vectors.
#include <catch2/catch.hpp>

#include <fstream>

#include "lib/base/error.h"
#include "lib/base/sha256.h"
#include "tests/test_support.h"

TEST_CASE("sha256 reproduces the FIPS 180-4 test vectors", "[sha256]") {
  CHECK(mp::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(mp::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(mp::sha256_hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // A million 'a's, fed in uneven pieces to exercise streaming across block boundaries.
  mp::Sha256 streamed;
  const std::string piece(997, 'a');
  int64_t left = 1000000;
  while (left > 0) {
    const auto n = static_cast<size_t>(std::min<int64_t>(left, piece.size()));
    streamed.update(piece.data(), n);
    left -= static_cast<int64_t>(n);
  }
  CHECK(streamed.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256_file streams a file and rejects a missing one", "[sha256]") {
  mp::test::ScratchDir dir;
  std::ofstream(dir.path("abc.txt"), std::ios::binary) << "abc";
  CHECK(mp::sha256_file(dir.path("abc.txt")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  try {
    mp::sha256_file(dir.path("missing.txt"));
    FAIL("no error for a missing file");
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    CHECK(std::string(e.what()).rfind(dir.path("missing.txt") + ": cannot open", 0) == 0);
  }
}
