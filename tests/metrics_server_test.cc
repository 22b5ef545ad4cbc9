// The metrics and dashboard server on loopback: plain HTTP, and HTTPS only with --metrics-tls
// (a certificate made here), where a plain request or a client that does not trust the
// certificate gets nothing, and the gate still decides after the handshake.
#include "common/metrics_server.h"

#include <gtest/gtest.h>

#include "tests/support/http.h"

namespace sweepfarm::testing {
namespace {

// Admits "Bearer good" only.
std::optional<HttpPage> Gate(const HttpRequest& request) {
  if (request.authorization == "Bearer good") return std::nullopt;
  HttpPage refused;
  refused.status = 401;
  refused.body = "no\n";
  return refused;
}

std::unique_ptr<MetricsServer> Start(const HttpTls& tls) {
  auto server = MetricsServer::Start(
      "127.0.0.1:0", [] { return std::string("sweepfarm_up 1\n"); },
      [](const HttpRequest& request) -> std::optional<HttpPage> {
        if (request.path != "/page") return std::nullopt;
        HttpPage page;
        page.body = "<!DOCTYPE html><p>hello</p>";
        return page;
      },
      Gate, tls);
  EXPECT_TRUE(server.ok()) << server.status().message();
  return server.ok() ? std::move(server).value() : nullptr;
}

const std::string kGood = "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n\r\n";

TEST(MetricsServerTest, PlainHttpAnswersThroughTheGate) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  EXPECT_FALSE(server->tls());
  const std::string at = "127.0.0.1:" + std::to_string(server->port());
  EXPECT_EQ(HttpExchange(at, kGood).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(HttpExchange(at, kGood).find("\r\n\r\nsweepfarm_up 1\n"), std::string::npos);
  EXPECT_EQ(HttpExchange(at, "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 401", 0), 0u);
}

TEST(MetricsServerTest, TlsServesOnlyHttpsToClientsThatTrustItsCertificate) {
  const SelfSigned mine = MakeSelfSigned("metrics-test");
  auto server = Start({mine.cert_pem, mine.key_pem});
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->tls());
  const std::string at = "127.0.0.1:" + std::to_string(server->port());
  std::string error;
  std::string answer = HttpsExchange(at, kGood, mine.cert_pem, &error);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << error << answer;
  EXPECT_NE(answer.find("\r\n\r\nsweepfarm_up 1\n"), std::string::npos) << answer;
  // The gate still decides, inside the session.
  answer = HttpsExchange(at, "GET /page HTTP/1.1\r\n\r\n", mine.cert_pem, &error);
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << error << answer;
  answer = HttpsExchange(at, "GET /page HTTP/1.1\r\nAuthorization: Bearer good\r\n\r\n",
                         mine.cert_pem, &error);
  EXPECT_NE(answer.find("<p>hello</p>"), std::string::npos) << error << answer;
  // Plain HTTP gets no answer at all: the port never speaks in the clear.
  answer = HttpExchange(at, kGood);
  EXPECT_EQ(answer.find("HTTP/1.1"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("sweepfarm_up"), std::string::npos) << answer;
  // A client that trusts another certificate refuses the handshake before it sends anything.
  const SelfSigned other = MakeSelfSigned("someone-else");
  EXPECT_EQ(HttpsExchange(at, kGood, other.cert_pem, &error), "");
  EXPECT_NE(error.find("certificate"), std::string::npos) << error;
  // And the server goes on serving.
  EXPECT_EQ(HttpsExchange(at, kGood, mine.cert_pem, &error).rfind("HTTP/1.1 200 OK\r\n", 0), 0u)
      << error;
}

TEST(MetricsServerTest, UnusableCertificatesAreRefusedAtStart) {
  const SelfSigned a = MakeSelfSigned("a"), b = MakeSelfSigned("b");
  auto render = [] { return std::string(); };
  auto mismatched =
      MetricsServer::Start("127.0.0.1:0", render, nullptr, nullptr, {a.cert_pem, b.key_pem});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mismatched.status().message().find("--tls-key is not the key of --tls-cert"),
            std::string::npos)
      << mismatched.status().message();
  auto garbage =
      MetricsServer::Start("127.0.0.1:0", render, nullptr, nullptr, {"not a pem", a.key_pem});
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("the --tls-cert certificate cannot be used"),
            std::string::npos)
      << garbage.status().message();
  auto no_key =
      MetricsServer::Start("127.0.0.1:0", render, nullptr, nullptr, {a.cert_pem, "nothing"});
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.status().message().find("the --tls-key private key cannot be used"),
            std::string::npos)
      << no_key.status().message();
}

}  // namespace
}  // namespace sweepfarm::testing
