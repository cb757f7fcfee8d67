package pool_test

import (
	"testing"

	"github.com/sandrun/sandrun/session/sessiontest"
)

func TestMain(m *testing.M) { sessiontest.Main(m) }
