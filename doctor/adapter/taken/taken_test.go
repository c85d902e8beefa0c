package taken

import (
	"testing"

	"github.com/medisync/medisync/doctor/service/takentest"
)

func TestNoneKeepsTheContract(t *testing.T) {
	takentest.Run(t, func(*testing.T) takentest.Fixture { return takentest.Fixture{Port: None{}} })
}
