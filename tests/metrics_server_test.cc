// The metrics and dashboard server on loopback: plain HTTP, and HTTPS only with --metrics-tls
// (a certificate made here), where a plain request or a client that does not trust the
// certificate gets nothing, and the gate still decides after the handshake.
#include "common/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

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

// A raw loopback connection to `port` that has sent `text` (and keeps quiet); -1 on failure.
int Connect(int port, const std::string& text) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

// Whatever the server sends on `fd` until it closes it (or 30 s pass).
std::string ReadAll(int fd) {
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string out;
  char buf[1024];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Clients that send half a request and stop, or dribble it a byte at a time, hold a connection
// each, not the server: others are answered meanwhile, and each slow one is closed unanswered
// once its time to deliver the request is over (libmicrohttpd's own timeout would let a
// dribbler go on for ever).
TEST(MetricsServerTest, SlowClientsHoldNothing) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  const std::string at = "127.0.0.1:" + std::to_string(server->port());
  const auto began = std::chrono::steady_clock::now();
  std::vector<int> silent;
  for (int i = 0; i < 2 * kHttpConnectionThreads; ++i) {
    silent.push_back(Connect(server->port(), "GET /metrics HTTP/1.1\r\nHost"));
    ASSERT_GE(silent.back(), 0);
  }
  // A dribbling client: one byte of a never-ending header every 200 ms.
  std::atomic<bool> cut{false};
  std::string dribbled;
  double dribbled_for = 0;
  std::thread dribble([&] {
    const int fd = Connect(server->port(), "GET /metrics HTTP/1.1\r\nX-Long: ");
    if (fd < 0) return;
    // kHttpRequestSeconds at five bytes a second, and as long again: the server ends it first.
    for (int i = 0; i < 10 * kHttpRequestSeconds && !cut; ++i) {
      if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) > 0) cut = true;
    }
    dribbled = ReadAll(fd);
    dribbled_for = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    close(fd);
  });
  // Answered while every slow client still waits for its answer.
  EXPECT_EQ(HttpExchange(at, kGood).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(HttpExchange(at, kGood).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  for (int fd : silent) {
    char c;
    EXPECT_EQ(recv(fd, &c, 1, MSG_DONTWAIT), -1) << "answered or closed before its time was up";
  }
  for (int fd : silent) {
    EXPECT_EQ(ReadAll(fd), "");  // Closed (ReadAll gives up after 30 s).
    close(fd);
  }
  const double silent_for =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  EXPECT_GE(silent_for, kHttpRequestSeconds - 0.5);
  EXPECT_LT(silent_for, kHttpRequestSeconds + 5);
  dribble.join();
  EXPECT_TRUE(cut) << "the dribbling client was never cut off";
  EXPECT_EQ(dribbled, "");
  EXPECT_LT(dribbled_for, kHttpRequestSeconds + 5);
  // And the server goes on serving.
  EXPECT_EQ(HttpExchange(at, kGood).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

// Requests the server will not take are answered with the status that says why, before any
// handler sees them.
TEST(MetricsServerTest, OversizedAndMalformedRequestsGetTheirStatus) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  const std::string at = "127.0.0.1:" + std::to_string(server->port());
  // A head of kMaxHttpHead bytes is served; one that does not fit the connection's memory not.
  std::string big = "GET /metrics HTTP/1.1\r\nAuthorization: Bearer good\r\nX-Pad: ";
  big += std::string(kMaxHttpHead - big.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(big.size(), kMaxHttpHead);
  std::string answer = HttpExchange(at, big);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  std::string huge = "GET /metrics HTTP/1.1\r\nX-Pad: ";
  huge += std::string(kHttpConnectionMemory - huge.size(), 'a');
  answer = HttpExchange(at, huge);
  EXPECT_EQ(answer.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u) << answer;
  answer = HttpExchange(at, "POST /page HTTP/1.1\r\nContent-Length: " +
                                std::to_string(kMaxHttpBody + 1) + "\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 413 Content Too Large\r\n", 0), 0u) << answer;
  answer = HttpExchange(at, "POST /page HTTP/1.1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 411 Length Required\r\n", 0), 0u) << answer;
  answer = HttpExchange(at, "POST /page HTTP/1.1\r\nContent-Length: x1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << answer;
  answer = HttpExchange(at, "DELETE /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << answer;
  // A client that stops sending half-way through its head, or its body, gets nothing: no
  // handler saw a request.
  for (const std::string& part :
       {std::string("GET /metrics HTTP/1.1\r\nHost"),
        std::string("POST /page HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")}) {
    const int fd = Connect(server->port(), part);
    ASSERT_GE(fd, 0);
    shutdown(fd, SHUT_WR);
    EXPECT_EQ(ReadAll(fd), "") << part;
    close(fd);
  }
  EXPECT_EQ(HttpExchange(at, kGood).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

// Over TLS: a client that never finishes its handshake holds nothing either, and is closed
// when its time is up, with at most a TLS alert, never an HTTP answer.
TEST(MetricsServerTest, StalledHandshakesHoldNothing) {
  const SelfSigned mine = MakeSelfSigned("metrics-test");
  auto server = Start({mine.cert_pem, mine.key_pem});
  ASSERT_NE(server, nullptr);
  const std::string at = "127.0.0.1:" + std::to_string(server->port());
  std::vector<int> stalled;
  for (int i = 0; i < 2 * kHttpConnectionThreads; ++i) {
    stalled.push_back(
        Connect(server->port(), std::string("\x16\x03\x01", 3)));  // A record's start.
    ASSERT_GE(stalled.back(), 0);
  }
  std::string error;
  EXPECT_EQ(HttpsExchange(at, kGood, mine.cert_pem, &error).rfind("HTTP/1.1 200 OK\r\n", 0), 0u)
      << error;
  for (int fd : stalled) {
    const std::string got = ReadAll(fd);
    EXPECT_EQ(got.find("HTTP"), std::string::npos) << got;
    EXPECT_TRUE(got.empty() || got[0] == '\x15') << "not a TLS alert";
    close(fd);
  }
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
