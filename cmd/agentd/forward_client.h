// The daemon's API socket when neither --socket nor $AGENTD_SOCKET names
// one: supervisor/client.DefaultSocket (forward_test.go checks).
#define AGENTD_DEFAULT_SOCKET "/run/agentd/agentd.sock"
