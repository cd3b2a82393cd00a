package exporttest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// Kore.ai XO bot exports.
// Kore API docs: https://koreai.mintlify.app/ai-for-service/apis/automation/bot-export-status

func (s *Server) koreRoutes() []route {
	return []route{
		{http.MethodPost, "api/public/bot/*/export", s.koreStart},
		{http.MethodGet, "api/public/bot/*/export/status", s.koreStatus},
	}
}

// createKore registers a bot export; it becomes the bot's latest. The
// caller holds s.mu.
func (s *Server) createKore(botID, exportType string) *export {
	e := s.newExport(exportkit.Kore, kindExport, "ber-"+newUUID())
	e.botID, e.exportType, e.createdBy = botID, exportType, s.koreBy
	p := korePrefix + "bot-exports/" + url.PathEscape(botID) + "/" + e.id + ".zip"
	s.attachFile(e, p, "BotExport_"+e.id[4:12]+".zip", "application/zip", formatBotZip)
	s.bots[botID] = append(s.bots[botID], e)
	return e
}

// koreStart is POST /api/public/bot/{BotID}/export with a JSON body whose
// exportType (latest or published) is required. The optional fields are
// checked as Kore documents them: exportOptions' lists (settings, tasks,
// nlpData, AgentAI) hold only the documented parts, subTasks' lists
// (dialogs, alerts, actions, experienceFlows) hold task names, and
// allTasks, IncludeDependentTasks and customDashboards are booleans.
// Anything else is a 400 in Kore's error shape.
//
// Kore API docs: https://koreai.mintlify.app/ai-for-service/apis/automation/bot-export
func (s *Server) koreStart(w http.ResponseWriter, r *http.Request, p []string) {
	var body koreStartBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, exportkit.Kore, http.StatusBadRequest, "400", "Invalid JSON body")
		return
	}
	if body.ExportType != "latest" && body.ExportType != "published" {
		s.writeError(w, exportkit.Kore, http.StatusBadRequest, "400", "exportType is required and must be latest or published")
		return
	}
	if msg := body.check(); msg != "" {
		s.writeError(w, exportkit.Kore, http.StatusBadRequest, "400", msg)
		return
	}
	s.mu.Lock()
	e := s.createKore(p[0], body.ExportType)
	s.mu.Unlock()
	s.createReply(w, http.StatusOK, obj{
		"status": "pending", "streamId": e.botID, "createdBy": e.createdBy, "exportType": e.exportType,
		"requestType": "Botexport", "_id": e.id, "createdOn": stamp(e.created), "__v": 0,
	})
}

// koreStatus is GET /api/public/bot/{BotID}/export/status: the bot's latest
// export, whoever started it (there is no export id). A status read:
// pending, then in-progress, then success with downloadURL and a string
// fileSize, or failed with errorCode and errorMessage. 404 when the bot has
// no export.
func (s *Server) koreStatus(w http.ResponseWriter, _ *http.Request, p []string) {
	s.mu.Lock()
	all := s.bots[p[0]]
	if len(all) == 0 {
		s.mu.Unlock()
		s.writeError(w, exportkit.Kore, http.StatusNotFound, "404", "No export request found for this bot")
		return
	}
	e, now := all[len(all)-1], time.Now()
	st := e.observe(now, true)
	status := map[exportkit.State]string{
		exportkit.StatePending: "pending", exportkit.StateRunning: "in-progress", exportkit.StateReady: "success",
		exportkit.StateFailed: "failed", exportkit.StateCanceled: "cancelled", exportkit.StateExpired: "expired",
	}[st]
	if e.raw != "" {
		status = e.raw
	}
	v := obj{
		"_id": e.id, "botId": e.botID, "createdBy": e.createdBy, "exportType": e.exportType,
		"requestType": "Botexport", "status": status, "createdOn": stamp(e.created), "__v": 0,
	}
	switch st {
	case exportkit.StateReady:
		u, _, params := s.signedURL(e, now)
		v["downloadURL"], v["store"] = u, obj{"urlParams": params}
		v["fileId"], v["fileSize"] = e.id[4:], strconv.FormatInt(e.file.size, 10)
	case exportkit.StateFailed:
		v["errorCode"], v["errorMessage"] = orNil(e.failCode), orNil(e.failMessage)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// koreStartBody is the bot export request as Kore reads it. A field of the
// wrong JSON type fails decoding: "Invalid JSON body".
type koreStartBody struct {
	ExportType            string              `json:"exportType"`
	ExportOptions         map[string][]string `json:"exportOptions"`
	SubTasks              map[string][]string `json:"subTasks"`
	AllTasks              *bool               `json:"allTasks"`
	IncludeDependentTasks *bool               `json:"IncludeDependentTasks"`
	CustomDashboards      *bool               `json:"customDashboards"`
}

// koreExportParts are the documented values of each exportOptions list.
var koreExportParts = map[string][]string{
	"settings": {"botSettings", "botVariables", "ivrSettings", "genAIandLLMSettings"},
	"tasks":    {"botTask", "knowledgeGraph", "smallTalk"},
	"nlpData":  {"utterances", "patterns", "traits", "rules", "concepts", "synonyms", "standardResponses", "nlpSettings"},
	"AgentAI":  {"rules", "playbooks", "widgetSettings", "layoutSettings"},
}

// koreSubTaskKinds are the lists subTasks may hold.
var koreSubTaskKinds = []string{"dialogs", "alerts", "actions", "experienceFlows"}

// check returns what is wrong with the optional fields, or "".
func (b *koreStartBody) check() string {
	for key, values := range b.ExportOptions {
		allowed, ok := koreExportParts[key]
		if !ok {
			return "exportOptions." + key + " is not a known export option"
		}
		for _, v := range values {
			if !slices.Contains(allowed, v) {
				return "exportOptions." + key + ": " + strconv.Quote(v) + " is not one of " + strings.Join(allowed, ", ")
			}
		}
	}
	for key, names := range b.SubTasks {
		if !slices.Contains(koreSubTaskKinds, key) {
			return "subTasks." + key + " is not one of " + strings.Join(koreSubTaskKinds, ", ")
		}
		for _, n := range names {
			if strings.TrimSpace(n) == "" {
				return "subTasks." + key + ": empty task name"
			}
		}
	}
	return ""
}
