// Token files (names, roles, comments, the errors that name the line) and which RPCs each role
// may call. Pure logic; the end-to-end test (TlsAndTokenGuardEveryRpc) runs the same checks
// through a coordinator.
#include "proto/security.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace sweepfarm {
namespace {

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sweepfarm-tokens.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::remove(path().c_str());
    rmdir(dir_.c_str());
  }
  std::string path() const { return dir_ + "/tokens"; }
  StatusOr<TransportSecurity> Load(const std::string& text) {
    std::ofstream(path()) << text;
    Flags flags;
    DefineSecurityFlags(&flags, SecurityRole::kServer);
    EXPECT_TRUE(flags.Parse({"--auth-token-file", path()}).ok());
    return LoadTransportSecurity(flags, SecurityRole::kServer);
  }
  std::string dir_;
};

TEST_F(TokenFileTest, BareTokensAreUnnamedAdminsAndNamedOnesCarryTheirRole) {
  auto s = Load(
      "# the farm's tokens\n"
      "0123456789abcdef0123456789abcdef\n"
      "\n"
      "1111111111111111 gpu-host-1 worker   # a GPU host\n"
      "2222222222222222 alice@ops operator\r\n"
      "3333333333333333 dashboards reader\n"
      "4444444444444444 root.1 admin\n");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->tokens.size(), 5u);
  EXPECT_EQ(s->tokens[0].token, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(s->tokens[0].name, "");
  EXPECT_EQ(s->tokens[0].role, Role::kAdmin);
  EXPECT_EQ(s->tokens[1].name, "gpu-host-1");
  EXPECT_EQ(s->tokens[1].role, Role::kWorker);
  EXPECT_EQ(s->tokens[2].token, "2222222222222222");
  EXPECT_EQ(s->tokens[2].name, "alice@ops");
  EXPECT_EQ(s->tokens[2].role, Role::kOperator);
  EXPECT_EQ(s->tokens[3].role, Role::kReader);
  EXPECT_EQ(s->tokens[4].role, Role::kAdmin);
}

TEST_F(TokenFileTest, BadLinesAreRefusedNamingTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"0123456789abcdef0123456789abcdef\nshort\n", ":2: a token must be at least 16"},
      {"1111111111111111 alice\n", ":1: expected TOKEN or TOKEN NAME ROLE, found 2 fields"},
      {"1111111111111111 alice operator extra\n", ":1: expected TOKEN or TOKEN NAME ROLE"},
      {"\n1111111111111111 alice root\n",
       ":2: role \"root\" is not one of admin, operator, worker, reader, labeller, serve"},
      {"1111111111111111 al/ice reader\n", ":1: name \"al/ice\": letters, digits and . _ @ -"},
      {"1111111111111111\n1111111111111111 alice reader\n", ":2: a token listed twice"},
      {"# only a comment\n\n", ": no token in the file"},
  };
  for (const auto& [text, error] : cases) {
    auto s = Load(text);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("--auth-token-file " + path() + error), std::string::npos)
        << s.status().message();
  }
}

TEST(RoleTest, EachRoleCallsItsRpcsOnly) {
  const std::vector<std::string> worker = {"RegisterWorker", "LeaseWork",     "Heartbeat",
                                           "ReportResults",  "ReleaseLeases", "UploadArtifact",
                                           "GetCheckpoint",  "FetchDataset"};
  const std::vector<std::string> reader = {
      "GetSweepStatus", "ListTrials",      "ListSweeps", "ListWorkers",  "BuildEnsemble",
      "GetModel",       "ListVersions",    "Predict",    "ListDatasets", "GetDataset",
      "ExportDataset",  "ListPredictions", kHttpPages};
  const std::vector<std::string> writes = {
      "SubmitSweep",  "CancelSweep",     "SetSweepPriority",  "PruneSweeps",
      "PublishSweep", "SetAlias",        "Rollback",          "ImportDataset",
      "GrowDataset",  "LabelPrediction", "RecordPredictions", "SomeFutureRpc"};
  for (const auto& rpc : worker) {
    EXPECT_TRUE(RoleAllows(Role::kWorker, rpc)) << rpc;
    EXPECT_FALSE(RoleAllows(Role::kReader, rpc)) << rpc;
    EXPECT_FALSE(RoleAllows(Role::kOperator, rpc)) << rpc;
    EXPECT_TRUE(RoleAllows(Role::kAdmin, rpc)) << rpc;
  }
  for (const auto& rpc : reader) {
    EXPECT_FALSE(RoleAllows(Role::kWorker, rpc)) << rpc;
    EXPECT_TRUE(RoleAllows(Role::kReader, rpc)) << rpc;
    EXPECT_TRUE(RoleAllows(Role::kOperator, rpc)) << rpc;
    EXPECT_TRUE(RoleAllows(Role::kAdmin, rpc)) << rpc;
  }
  // Writes, and an RPC on no list: operators and admins only.
  for (const auto& rpc : writes) {
    EXPECT_FALSE(RoleAllows(Role::kWorker, rpc)) << rpc;
    EXPECT_FALSE(RoleAllows(Role::kReader, rpc)) << rpc;
    EXPECT_TRUE(RoleAllows(Role::kOperator, rpc)) << rpc;
    EXPECT_TRUE(RoleAllows(Role::kAdmin, rpc)) << rpc;
  }
}

// --metrics-auth: the HTTP pages take a token as a bearer token or as a basic-auth password, from
// any role that may read; the refusals say why without echoing a token.
TEST(HttpAuthTest, ReadersAdminsAndOperatorsMayReadThePages) {
  const TokenCheck check({{"0123456789abcdef0123456789abcdef", "", Role::kAdmin},
                          {"1111111111111111", "gpu-host-1", Role::kWorker},
                          {"2222222222222222", "dashboards", Role::kReader},
                          {"3333333333333333", "alice", Role::kOperator}});
  for (const char* admitted :
       {"Bearer 2222222222222222", "Bearer 3333333333333333",
        "Bearer 0123456789abcdef0123456789abcdef",
        "Basic ZGFzaGJvYXJkczoyMjIyMjIyMjIyMjIyMjIy",             // dashboards:2222...
        "Basic OjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm"}) {  // :0123... (no user name)
    EXPECT_FALSE(check.AdmitHttp(HttpRequest{"GET", "/metrics", admitted}).has_value()) << admitted;
  }
  auto missing = check.AdmitHttp(HttpRequest{"GET", "/sweeps/3", ""});
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 401);
  ASSERT_EQ(missing->headers.size(), 1u);
  EXPECT_EQ(missing->headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(missing->headers[0].second.rfind("Basic realm=\"sweepfarm\"", 0), 0u);
  EXPECT_EQ(missing->body.rfind("GET /sweeps/3: no authorization token", 0), 0u) << missing->body;
  for (const char* wrong :
       {"Bearer 2222222222222223", "Bearer  2222222222222222", "bearer 2222222222222222",
        "Basic eDoyMjIyMjIyMjIyMjIyMjIz",  // x:2222...223
        "Basic MjIyMjIyMjIyMjIyMjIyMg==",  // the token with no "user:"
        "Basic ZGFzaGJvYXJkczoyMjIy!!", "Token 2222222222222222", "2222222222222222"}) {
    auto refused = check.AdmitHttp(HttpRequest{"GET", "/", wrong});
    ASSERT_TRUE(refused.has_value()) << wrong;
    EXPECT_EQ(refused->status, 401) << wrong;
    EXPECT_EQ(refused->body, "GET /: wrong authorization token\n");
  }
  auto worker = check.AdmitHttp(
      HttpRequest{"GET", "/metrics", "Basic eDoxMTExMTExMTExMTExMTEx"});  // x:1111...
  ASSERT_TRUE(worker.has_value());
  EXPECT_EQ(worker->status, 403);
  EXPECT_EQ(worker->body,
            "GET /metrics: the token of gpu-host-1 (role worker) may not read these pages\n");
  EXPECT_FALSE(TokenCheck().AdmitHttp(HttpRequest{"GET", "/metrics", ""}).has_value())
      << "no tokens: open";
}

// The dashboard's one write (a prediction's label): labellers, operators and admins; a reader
// may look but not label.
TEST(HttpAuthTest, OnlyLabellersOperatorsAndAdminsMayPostLabels) {
  const TokenCheck check({{"2222222222222222", "dashboards", Role::kReader},
                          {"4444444444444444", "erin", Role::kLabeller},
                          {"3333333333333333", "alice", Role::kOperator},
                          {"5555555555555555", "serve-1", Role::kServe}});
  const std::string path = "/predictions/0123/label";
  EXPECT_FALSE(check.AdmitHttp(HttpRequest{"POST", path, "Bearer 4444444444444444"}).has_value());
  EXPECT_FALSE(check.AdmitHttp(HttpRequest{"POST", path, "Bearer 3333333333333333"}).has_value());
  EXPECT_FALSE(check.AdmitHttp(HttpRequest{"GET", "/", "Bearer 4444444444444444"}).has_value());
  auto reader = check.AdmitHttp(HttpRequest{"POST", path, "Bearer 2222222222222222"});
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->status, 403);
  EXPECT_EQ(reader->body,
            "POST " + path + ": the token of dashboards (role reader) may not label predictions\n");
  auto serve = check.AdmitHttp(HttpRequest{"GET", "/", "Bearer 5555555555555555"});
  ASSERT_TRUE(serve.has_value());
  EXPECT_EQ(serve->status, 403);
  EXPECT_EQ(check.HolderOf("Bearer 4444444444444444")->name, "erin");
  EXPECT_EQ(check.HolderOf("Bearer 4444"), nullptr);
  // The roles on gRPC: a labeller reads and labels, nothing else; a service loads and records.
  EXPECT_TRUE(RoleAllows(Role::kLabeller, "LabelPrediction"));
  EXPECT_TRUE(RoleAllows(Role::kLabeller, "ListPredictions"));
  EXPECT_FALSE(RoleAllows(Role::kLabeller, "GrowDataset"));
  EXPECT_FALSE(RoleAllows(Role::kLabeller, "RecordPredictions"));
  EXPECT_FALSE(RoleAllows(Role::kReader, "LabelPrediction"));
  EXPECT_TRUE(RoleAllows(Role::kServe, "RecordPredictions"));
  EXPECT_TRUE(RoleAllows(Role::kServe, "GetModel"));
  EXPECT_FALSE(RoleAllows(Role::kServe, "LabelPrediction"));
  EXPECT_FALSE(RoleAllows(Role::kServe, "SubmitSweep"));
  EXPECT_TRUE(RoleAllows(Role::kWorker, "FetchDataset"));
  EXPECT_FALSE(RoleAllows(Role::kOperator, "FetchDataset"));
}

TEST(HttpAuthTest, MetricsAuthNeedsTokensAndAnAddress) {
  auto gate = [](std::vector<std::string> args, const TransportSecurity& security) {
    Flags flags;
    flags.Define("metrics-listen", "", "");
    DefineSecurityFlags(&flags, SecurityRole::kServer);
    EXPECT_TRUE(flags.Parse(args).ok());
    return MetricsGate(flags, security);
  };
  TransportSecurity with_tokens;
  with_tokens.tokens.push_back({"2222222222222222", "dashboards", Role::kReader});
  auto off = gate({"--metrics-listen", "127.0.0.1:0"}, with_tokens);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(static_cast<bool>(*off));
  auto on = gate({"--metrics-listen", "127.0.0.1:0", "--metrics-auth"}, with_tokens);
  ASSERT_TRUE(on.ok());
  ASSERT_TRUE(static_cast<bool>(*on));
  EXPECT_EQ((*on)(HttpRequest{"GET", "/metrics", ""})->status, 401);
  EXPECT_FALSE((*on)(HttpRequest{"GET", "/metrics", "Bearer 2222222222222222"}).has_value());
  for (auto bad : {gate({"--metrics-auth"}, with_tokens),
                   gate({"--metrics-listen", "127.0.0.1:0", "--metrics-auth"}, {})}) {
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(
        bad.status().message(),
        "--metrics-auth: needs --metrics-listen and --auth-token-file (the tokens it checks)");
  }
}

// --metrics-tls: the gRPC server's certificate and key for the metrics port, or nothing.
TEST(MetricsTlsTest, NeedsTheServersCertificateAndAMetricsAddress) {
  auto tls = [](std::vector<std::string> args, const TransportSecurity& security) {
    Flags flags;
    flags.Define("metrics-listen", "", "");
    DefineSecurityFlags(&flags, SecurityRole::kServer);
    EXPECT_TRUE(flags.Parse(args).ok());
    return MetricsTls(flags, security);
  };
  TransportSecurity with_cert;
  with_cert.cert_pem = "CERT";
  with_cert.key_pem = "KEY";
  auto off = tls({"--metrics-listen", "127.0.0.1:0"}, with_cert);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled());
  auto on = tls({"--metrics-listen", "127.0.0.1:0", "--metrics-tls"}, with_cert);
  ASSERT_TRUE(on.ok());
  EXPECT_EQ(on->cert_pem, "CERT");
  EXPECT_EQ(on->key_pem, "KEY");
  for (auto bad : {tls({"--metrics-tls"}, with_cert),
                   tls({"--metrics-listen", "127.0.0.1:0", "--metrics-tls"}, {})}) {
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(bad.status().message(),
              "--metrics-tls: needs --metrics-listen, and --tls-cert and --tls-key (the "
              "certificate it serves)");
  }
}

TEST(ExposureTest, LoopbackIsOnlyThisMachine) {
  for (const char* a : {"127.0.0.1:50051", "127.1.2.3:0", "[::1]:50051", "localhost:9090",
                        "unix:/run/sweepfarm.sock"}) {
    EXPECT_TRUE(IsLoopback(a)) << a;
  }
  for (const char* a : {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.5:50051",
                        "farm.example:443", "127.0.0.1.example:1", "128.0.0.1:1"}) {
    EXPECT_FALSE(IsLoopback(a)) << a;
  }
}

// Beyond loopback, a server wants TLS and tokens (the metrics port: --metrics-auth and
// --metrics-tls), or --insecure, which is then warned about.
TEST(ExposureTest, BeyondLoopbackNeedsTlsAndTokensOrInsecure) {
  auto check = [](std::vector<std::string> args, const TransportSecurity& security,
                  std::vector<std::string>* warnings) {
    Flags flags;
    flags.Define("listen", "127.0.0.1:50051", "").Define("metrics-listen", "", "");
    DefineSecurityFlags(&flags, SecurityRole::kServer);
    EXPECT_TRUE(flags.Parse(args).ok());
    return CheckExposure(flags, security, warnings);
  };
  TransportSecurity none, guarded;
  guarded.cert_pem = "CERT";
  guarded.key_pem = "KEY";
  guarded.tokens.push_back({"2222222222222222", "ops", Role::kAdmin});
  std::vector<std::string> warnings;
  EXPECT_TRUE(check({}, none, &warnings).ok());
  EXPECT_TRUE(check({"--listen", "0.0.0.0:50051"}, guarded, &warnings).ok());
  EXPECT_TRUE(check({"--metrics-listen", "0.0.0.0:9090", "--metrics-auth", "--metrics-tls"},
                    guarded, &warnings)
                  .ok());
  EXPECT_TRUE(warnings.empty());

  Status open = check({"--listen", "0.0.0.0:50051"}, none, &warnings);
  EXPECT_EQ(open.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(open.message(),
            "--listen 0.0.0.0:50051 is reachable beyond this machine: give --tls-cert and "
            "--tls-key, and --auth-token-file (or --insecure, to let anyone who reaches it call "
            "it)");
  TransportSecurity tls_only = guarded;
  tls_only.tokens.clear();
  EXPECT_FALSE(check({"--listen", "10.0.0.5:50051"}, tls_only, &warnings).ok());
  Status metrics =
      check({"--metrics-listen", "0.0.0.0:9090", "--metrics-auth"}, guarded, &warnings);
  EXPECT_NE(metrics.message().find("--metrics-listen 0.0.0.0:9090 is reachable beyond this "
                                   "machine: give --metrics-auth and --metrics-tls"),
            std::string::npos)
      << metrics.message();
  EXPECT_TRUE(warnings.empty()) << "a refusal warns of nothing";

  ASSERT_TRUE(check({"--listen", "0.0.0.0:50051", "--metrics-listen", "0.0.0.0:9090", "--insecure"},
                    none, &warnings)
                  .ok());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0],
            "--insecure: --listen 0.0.0.0:50051 serves without TLS and tokens: anyone who "
            "reaches it may call it");
}

TEST(AuditActorTest, TheAuthenticatedNameComesFirst) {
  EXPECT_EQ(AuditActor("alice", "root@host (sweepctl)", "sweepctl"),
            "alice via root@host (sweepctl)");
  EXPECT_EQ(AuditActor("alice", "", "sweepctl"), "alice");
  EXPECT_EQ(AuditActor("", "root@host (sweepctl)", "sweepctl"), "root@host (sweepctl)");
  EXPECT_EQ(AuditActor("", "", "sweepctl"), "sweepctl");
}

}  // namespace
}  // namespace sweepfarm
